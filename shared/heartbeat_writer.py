"""Group writing: request threads hand items over, one background thread writes them in batches.

Heartbeats are the hottest write of the platform and each one is tiny; writing each in its own
request costs a database round trip, a commit and a Postgres backend's time per beat. Instead
the request hands the beat to this process's writer and answers at once; the writer thread
takes everything pending, writes it with one call, and repeats. A write has a fixed cost
(for heartbeats ~0.4 ms of Postgres time, then ~30 us per beat), so the writer lingers a
moment (`linger`, 50 ms for heartbeats) after the first item of a batch to let the batch fill;
nobody waits on that: the requests have been answered.

What a beat in flight risks, and why that is acceptable: the process dying before the write
loses at most the beats of the last moments; watch time is not lost with them, because the
next beat of the session credits the whole span since the last written one (the interval
rule, shared/domain/watch.py), only those beats' analytics events are. A failed write is
retried with backoff; a batch that fails `MAX_ATTEMPTS` times in a row is dropped and logged
so that a poison batch cannot stall the stream. When too much is pending (the database is
down), `submit` refuses with 503 so clients back off instead of memory growing.

The thread starts on first use in the process that uses it (after a gunicorn fork) and
flushes what is pending at interpreter exit (a Cloud Run instance gets SIGTERM and time to
finish).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from shared.errors import Unavailable

T = TypeVar("T")
logger = logging.getLogger("heartbeat_writer")

MAX_ATTEMPTS = 5


class GroupWriter(Generic[T]):
    """Items submitted from any thread; `write(batch)` called from one thread, in order."""

    def __init__(
        self,
        write: Callable[[Sequence[T]], None],
        *,
        name: str,
        max_pending: int = 50_000,
        max_batch: int = 1_000,
        linger: float = 0.0,
    ) -> None:
        self._write = write
        self._name = name
        self._max_pending = max_pending
        self._max_batch = max_batch
        self._linger = linger
        self._waiting = 0  # flush() callers: they are owed a write now, without lingering
        self._cond = threading.Condition()
        self._pending: list[T] = []
        self._submitted = 0  # items ever submitted
        self._done = 0  # items ever written or dropped
        self._pid = 0
        self._closing = False

    def submit(self, item: T) -> None:
        with self._cond:
            if self._pid != os.getpid():
                self._start()
            if len(self._pending) >= self._max_pending:
                raise Unavailable(
                    "Too much is waiting to be written; retry shortly.", retry_after=2
                )
            self._pending.append(item)
            self._submitted += 1
            self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is written (or dropped); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._submitted
            self._waiting += 1
            self._cond.notify_all()
            try:
                while self._done < target:
                    left = deadline - time.monotonic()
                    if left <= 0 or self._pid != os.getpid():
                        return False
                    self._cond.wait(left)
            finally:
                self._waiting -= 1
        return True

    def _start(self) -> None:
        # A fresh process (first use, or a fork that inherited the parent's state): the items
        # and the thread belong to the parent.
        self._pid = os.getpid()
        self._pending, self._submitted, self._done = [], 0, 0
        threading.Thread(target=self._run, name=self._name, daemon=True).start()
        atexit.register(self._close)

    def _close(self) -> None:
        self.flush(timeout=8.0)
        with self._cond:
            self._closing = True
            self._cond.notify_all()

    def _run(self) -> None:
        failures = 0
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending:
                    return
                if failures == 0 and self._linger:
                    self._cond.wait_for(
                        lambda: (
                            len(self._pending) >= self._max_batch or self._waiting or self._closing
                        ),
                        timeout=self._linger,
                    )
                batch = self._pending[: self._max_batch]
            try:
                self._write(batch)
            except Exception:
                failures += 1
                if failures < MAX_ATTEMPTS:
                    logger.exception(
                        "%s: writing %d items failed (attempt %d); retrying",
                        self._name,
                        len(batch),
                        failures,
                    )
                    time.sleep(min(0.1 * 2**failures, 5.0))
                    continue
                logger.exception(
                    "%s: dropped %d items after %d failed attempts",
                    self._name,
                    len(batch),
                    failures,
                )
            failures = 0
            with self._cond:
                del self._pending[: len(batch)]
                self._done += len(batch)
                self._cond.notify_all()
