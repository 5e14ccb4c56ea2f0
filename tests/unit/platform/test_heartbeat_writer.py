"""The group writer: who writes, batching, order, flush, retries, back-pressure."""

from __future__ import annotations

import threading

import pytest

from shared.platform import group_writer as heartbeat_writer
from shared.platform.errors import Unavailable
from shared.platform.group_writer import GroupWriter


class FakeClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_items_arriving_during_a_write_form_the_next_batch_in_order():
    batches: list[list[int]] = []
    first_started, release = threading.Event(), threading.Event()

    def write(batch):
        batches.append(list(batch))
        if len(batches) == 1:
            first_started.set()
            release.wait(5)

    w: GroupWriter[int] = GroupWriter(write, name="t")
    threading.Thread(target=w.submit, args=(0,)).start()  # due at once: that thread writes it
    assert first_started.wait(5)
    for i in range(1, 101):  # all arrive while the first write is in flight
        w.submit(i)
    release.set()
    assert w.flush(5)
    assert batches == [[0], list(range(1, 101))]


def test_the_request_that_finds_a_batch_due_writes_it_itself():
    """Cloud Run gives CPU only to requests: due writes ride on them, not on the thread."""
    writers: list[str] = []
    w: GroupWriter[int] = GroupWriter(
        lambda b: writers.append(threading.current_thread().name), name="bg", max_batch=3
    )
    w.submit(1)  # linger 0: due at once, written by this (the "request") thread
    assert writers == [threading.current_thread().name]
    lingering: GroupWriter[int] = GroupWriter(
        lambda b: writers.append(threading.current_thread().name),
        name="bg",
        max_batch=3,
        linger=60,
    )
    lingering.submit(1)
    lingering.submit(2)
    assert len(writers) == 1  # not due: neither old enough nor long enough
    lingering.submit(3)  # max_batch reached: due now
    assert writers[1:] == [threading.current_thread().name]


def test_the_writer_lingers_for_a_fuller_batch_and_the_thread_writes_when_requests_stop():
    clock = FakeClock()
    batches: list[list[int]] = []
    written = threading.Event()

    def write(batch):
        batches.append(list(batch))
        written.set()

    w: GroupWriter[int] = GroupWriter(write, name="t", linger=0.2, overdue=0.5, clock=clock)
    for i in range(5):
        w.submit(i)
    clock.advance(0.19)
    w.wake()
    w.submit(5)  # the clock is frozen short of the linger: nobody may write yet
    assert batches == []
    clock.advance(0.02)  # the linger ends; no request comes: the thread writes
    w.wake()
    assert written.wait(5)
    assert batches == [[0, 1, 2, 3, 4, 5]]
    w.submit(6)
    assert w.flush(5)  # a flush does not wait for the linger (the clock never moves again)
    assert batches[-1] == [6]


def test_batches_are_capped_and_flush_waits_for_everything_submitted():
    seen: list[int] = []
    gate = threading.Event()

    def write(batch):
        gate.wait(5)
        seen.extend(batch)

    w: GroupWriter[int] = GroupWriter(write, name="t", max_batch=7, linger=60)
    for i in range(6):
        w.submit(i)  # not due (6 < 7, linger 60 s): nobody writes
    assert not w.flush(0.05)  # flush makes it due; the writer is held by the gate
    gate.set()
    for i in range(6, 50):
        w.submit(i)
    assert w.flush(5)
    assert seen == list(range(50))


def test_a_failed_write_is_retried_in_the_background_then_dropped():
    attempts: list[tuple[list[str], str]] = []

    def write(batch):
        attempts.append((list(batch), threading.current_thread().name))
        if "poison" in batch:
            raise RuntimeError("database says no")

    w: GroupWriter[str] = GroupWriter(write, name="bg", backoff=0.01)
    w.submit("poison")  # first attempt in this thread, which is not held up by retries
    assert attempts == [(["poison"], threading.current_thread().name)]
    assert w.flush(5)
    assert [a[0] for a in attempts] == [["poison"]] * heartbeat_writer.MAX_ATTEMPTS
    assert {a[1] for a in attempts[1:]} == {"bg"}
    w.submit("fine")  # the stream goes on after the dropped batch
    assert w.flush(5)
    assert attempts[-1][0] == ["fine"]


def test_too_much_pending_is_refused_with_503():
    gate, writing = threading.Event(), threading.Event()

    def write(batch):
        writing.set()
        gate.wait(5)

    w: GroupWriter[int] = GroupWriter(write, name="t", max_pending=3)
    threading.Thread(target=w.submit, args=(1,)).start()  # its write blocks: 1 stays pending
    assert writing.wait(5)
    w.submit(2)
    w.submit(3)
    with pytest.raises(Unavailable) as e:
        w.submit(4)
    assert e.value.status == 503 and e.value.extra["retry_after"] >= 1
    gate.set()
    assert w.flush(5)
    w.submit(4)  # room again
    assert w.flush(5)


def test_requests_leave_batches_to_the_thread_unless_overdue(monkeypatch):
    clock = FakeClock()
    writes: list[tuple[str, list[int]]] = []
    written = threading.Event()

    def write(batch):
        writes.append((threading.current_thread().name, list(batch)))
        written.set()

    me = threading.current_thread().name
    w: GroupWriter[int] = GroupWriter(write, name="bg", linger=0.02, overdue=0.2, clock=clock)
    w.submit(1)
    clock.advance(0.03)
    w.wake()
    assert written.wait(5)
    assert writes == [("bg", [1])]  # the thread wrote it after the linger; the request did not

    # A starved thread (Cloud Run between sparse requests): the next request writes.
    starved: GroupWriter[int] = GroupWriter(write, name="bg", linger=0.02, overdue=0.2, clock=clock)
    monkeypatch.setattr(starved, "_run", lambda: None)
    starved.submit(2)
    clock.advance(0.1)
    starved.submit(3)  # 0.1 s old: past the linger, not yet overdue
    assert writes[1:] == []
    clock.advance(0.15)
    starved.submit(4)  # overdue now: this request writes everything pending
    assert writes[1:] == [(me, [2, 3, 4])]
