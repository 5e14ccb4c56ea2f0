"""Group writing: request threads hand items over; they are written in batches, one at a time.

Heartbeats are the hottest write of the platform and each one is tiny; writing each in its own
request costs a database round trip, a commit and a Postgres backend's time per beat. Instead
the request hands the beat to this process's writer and answers at once. A write has a fixed
cost (for heartbeats ~0.4 ms of Postgres time, then ~30 us per beat), so the writer's thread
writes a batch once it is `linger` old (50 ms for heartbeats) or `max_batch` long, whichever
comes first; one batch at a time, oldest items first.

Cloud Run functions give an instance CPU only while it handles requests. While requests flow
the thread has CPU; when they are sparse it may be starved between them. So a request that
finds a batch `overdue` (older than the thread should ever have let it get; 0.5 s for
heartbeats) or `max_batch` long writes it itself before it answers: that answer waits a few
milliseconds, the thread is not needed. Retries of failed writes (with backoff) are the
thread's.

What a beat in flight risks, and why that is acceptable: the process dying before the write
loses at most the last moments' beats; watch time is not lost with them, because the next
beat of the session credits the whole span since the last written one (the interval rule,
shared/learning/rules.py); only those beats' analytics events are. A batch whose write failed
`MAX_ATTEMPTS` times is dropped and logged, so that a poison batch cannot stall the stream.
When too much is pending (the database is down), `submit` refuses with 503 so that clients
back off instead of memory growing. What is pending is written at interpreter exit (a Cloud
Run instance gets SIGTERM and CPU to finish).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from shared.platform.errors import Unavailable

T = TypeVar("T")
logger = logging.getLogger("heartbeat_writer")

MAX_ATTEMPTS = 5


class GroupWriter(Generic[T]):
    """Items submitted from any thread, written by `write(batch)`, one batch at a time."""

    def __init__(
        self,
        write: Callable[[Sequence[T]], object],  # its result is ignored
        *,
        name: str,
        max_pending: int = 50_000,
        max_batch: int = 1_000,
        linger: float = 0.0,
        overdue: float | None = None,
        backoff: float = 0.1,  # seconds before the first retry; doubles, at most 5 s
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clock` (seconds, monotonic) decides when a batch is due; tests pass a fake one and
        call `wake()` after moving it, so no test has to sleep to let time pass."""
        self._write = write
        self._clock = clock
        self._name = name
        self._max_pending = max_pending
        self._max_batch = max_batch
        self._linger = linger
        self._overdue = linger if overdue is None else max(overdue, linger)
        self._backoff = backoff
        self._cond = threading.Condition()
        self._pid = 0
        self._reset()

    def _reset(self) -> None:
        self._pending: list[T] = []
        self._oldest = 0.0  # when the oldest pending item arrived (monotonic)
        self._submitted = 0  # items ever submitted
        self._done = 0  # items ever written or dropped
        self._writing = False
        self._failures = 0  # consecutive failed writes of the oldest batch
        self._retry_at = 0.0
        self._waiting = 0  # flush() callers: they are owed a write now
        self._closing = False

    def submit(self, item: T) -> None:
        with self._cond:
            if self._pid != os.getpid():
                self._start()
            if len(self._pending) >= self._max_pending:
                raise Unavailable("Too much is waiting to be written; retry soon.", retry_after=2)
            if not self._pending:
                self._oldest = self._clock()
            self._pending.append(item)
            self._submitted += 1
            batch = self._claim() if self._due(background=False) else None
            self._cond.notify_all()
        if batch is not None:
            self._write_claimed(batch)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is written (or dropped); False on timeout."""
        deadline = time.monotonic() + timeout  # a real wait: not the injectable clock
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

    def wake(self) -> None:
        """Re-check now whether a batch is due (after an injected clock was moved)."""
        with self._cond:
            self._cond.notify_all()

    # -- internals (callers hold self._cond where noted) ------------------------------------
    def _start(self) -> None:
        # A fresh process (first use, or a fork that inherited the parent's state): the items
        # and the thread belong to the parent.
        self._pid = os.getpid()
        self._reset()
        threading.Thread(target=self._run, name=self._name, daemon=True).start()
        atexit.register(self._close)

    def _due_in(self, *, background: bool = True) -> float:
        """Seconds until the oldest batch should be written (0: now). Holds the lock."""
        now = self._clock()
        if self._failures:
            return max(0.0, self._retry_at - now)
        if len(self._pending) >= self._max_batch or self._waiting or self._closing:
            return 0.0
        wait = self._linger if background else self._overdue
        return max(0.0, self._oldest + wait - now)

    def _due(self, *, background: bool) -> bool:
        """A batch may be claimed now. Retries are the background thread's. Holds the lock."""
        if self._writing or not self._pending or (self._failures and not background):
            return False
        return self._due_in(background=background) == 0.0

    def _claim(self) -> list[T]:
        self._writing = True
        return self._pending[: self._max_batch]

    def _write_claimed(self, batch: list[T]) -> None:
        try:
            self._write(batch)
            error = None
        except Exception as e:  # any failure: retried, then dropped
            error = e
        with self._cond:
            self._writing = False
            if error is not None and self._failures + 1 < MAX_ATTEMPTS:
                self._failures += 1
                backoff = min(self._backoff * 2 ** (self._failures - 1), 5.0)
                self._retry_at = self._clock() + backoff
                logger.error(
                    "%s: writing %d items failed (attempt %d), will retry: %r",
                    self._name,
                    len(batch),
                    self._failures,
                    error,
                )
            else:
                if error is not None:
                    logger.error(
                        "%s: dropped %d items after %d failed attempts: %r",
                        self._name,
                        len(batch),
                        MAX_ATTEMPTS,
                        error,
                    )
                del self._pending[: len(batch)]
                self._done += len(batch)
                self._failures = 0
                self._oldest = self._clock()  # the rest waits at most one more linger
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._due(background=True):
                    if self._closing and not self._pending:
                        return
                    wait = None if not self._pending or self._writing else self._due_in()
                    self._cond.wait(wait)
                batch = self._claim()
            self._write_claimed(batch)

    def _close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self.flush(timeout=8.0)
