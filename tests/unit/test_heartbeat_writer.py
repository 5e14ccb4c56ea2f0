"""The group writer: batching, order, flush, retries, back-pressure."""

from __future__ import annotations

import threading
import time

import pytest

from shared import heartbeat_writer
from shared.errors import Unavailable
from shared.heartbeat_writer import GroupWriter


def test_items_arriving_during_a_write_form_the_next_batch_in_order():
    batches: list[list[int]] = []
    first_started, release = threading.Event(), threading.Event()

    def write(batch):
        batches.append(list(batch))
        if len(batches) == 1:
            first_started.set()
            release.wait(5)

    w: GroupWriter[int] = GroupWriter(write, name="t")
    w.submit(0)
    assert first_started.wait(5)
    for i in range(1, 101):  # all arrive while the first write is in flight
        w.submit(i)
    release.set()
    assert w.flush(5)
    assert batches == [[0], list(range(1, 101))]


def test_batches_are_capped_and_flush_waits_for_everything_submitted():
    seen: list[int] = []
    gate = threading.Event()

    def write(batch):
        gate.wait(5)
        seen.extend(batch)

    w: GroupWriter[int] = GroupWriter(write, name="t", max_batch=7)
    for i in range(50):
        w.submit(i)
    assert not w.flush(0.05)  # the writer is held: nothing is written yet
    gate.set()
    assert w.flush(5)
    assert seen == list(range(50))


def test_a_failed_write_is_retried_then_dropped(monkeypatch):
    monkeypatch.setattr(heartbeat_writer.time, "sleep", lambda s: None)
    attempts: list[list[str]] = []

    def write(batch):
        attempts.append(list(batch))
        if "poison" in batch:
            raise RuntimeError("database says no")

    w: GroupWriter[str] = GroupWriter(write, name="t")
    w.submit("poison")
    assert w.flush(5)
    assert attempts == [["poison"]] * heartbeat_writer.MAX_ATTEMPTS
    w.submit("fine")  # the stream goes on after the dropped batch
    assert w.flush(5)
    assert attempts[-1] == ["fine"]


def test_too_much_pending_is_refused_with_503():
    gate = threading.Event()
    w: GroupWriter[int] = GroupWriter(lambda b: gate.wait(5), name="t", max_pending=3)
    w.submit(1)  # taken by the writer, which blocks: 1 stays pending until written
    w.submit(2)
    w.submit(3)
    with pytest.raises(Unavailable) as e:
        w.submit(4)
    assert e.value.status == 503 and e.value.extra["retry_after"] >= 1
    gate.set()
    assert w.flush(5)
    w.submit(4)  # room again
    assert w.flush(5)


def test_the_writer_lingers_for_a_fuller_batch_unless_someone_flushes():
    batches: list[list[int]] = []
    w: GroupWriter[int] = GroupWriter(lambda b: batches.append(list(b)), name="t", linger=0.3)
    for i in range(5):  # arrive one by one, well within the linger
        w.submit(i)
    assert w.flush(5)  # a flush does not wait for the linger to end...
    assert batches == [[0, 1, 2, 3, 4]]  # ...yet the lingering writer took them as one batch
    started = time.monotonic()
    w.submit(5)
    assert w.flush(5)
    assert time.monotonic() - started < 0.25
