"""Heartbeats written in batches (record_heartbeats(), shared.learning.progress.write_heartbeats).

A batch must give exactly what writing its beats one by one in arrival order gives, whatever
order the beats sit in the batch; one bad beat must not cost the others; every beat runs under
its own channel's row-level security; late beats credit nothing; and writers running batches
of the same students' lessons concurrently must never deadlock.
"""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest

from shared.learning import progress
from shared.learning.progress import Heartbeat, write_heartbeats
from shared.learning.rules import MAX_PLAYBACK_RATE, LessonWatch, distinct_seconds, is_complete
from tests import factories
from tests.factories import make_course, new_channel, new_user, random_beats
from tests.helpers import outbox_events

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture(scope="module")
def school(admin_db):
    admin = admin_db()
    owner = new_user("Owner")
    channel = new_channel(owner)
    course = make_course(admin, channel, owner, lessons=[("video", 600.0), ("video", 600.0)])
    other_owner = new_user("Other")
    other = new_channel(other_owner)
    other_course = make_course(admin, other, other_owner, lessons=[("video", 600.0)])
    yield {
        "admin": admin,
        "channel": channel,
        "course": course["id"],
        "lessons": course["lessons"],
        "other": other,
        "other_lesson": other_course["lessons"][0],
    }
    admin.close()


def enrolled_student(s) -> str:
    """A fresh student enrolled in the school's first course."""
    return factories.enrolled_student(s["admin"], s["channel"], s["course"])


def beat(s, student, session, pos, at, *, lesson=None, channel=None, playing=True):
    return Heartbeat(
        channel or s["channel"],
        student,
        lesson or s["lessons"][0],
        session,
        pos,
        playing,
        at,
    )


def watched(s, student, lesson) -> float | None:
    rows = s["admin"].run(
        "SELECT watched_seconds FROM lesson_progress WHERE user_id = :u AND lesson_id = :l",
        u=student,
        l=lesson,
    )
    return float(rows[0][0]) if rows else None


def test_a_shuffled_batch_credits_what_arrival_order_credits(school):
    s = school
    student = enrolled_student(s)
    base = datetime.now(UTC)
    rng = random.Random(7)
    beats, expected = [], []
    model = LessonWatch(600.0)
    pos = {"a": 0.0, "b": 300.0}
    for k in range(40):
        session = rng.choice("ab")
        pos[session] += rng.choice([2.0, 5.0, 30.0])  # 30 s in 5 s: more than real time allows
        at = 5.0 * k
        beats.append(beat(s, student, session, pos[session], base + timedelta(seconds=at)))
        interval = model.beat(session, position=pos[session], playing=True, at=at)
        expected.append(round(interval[1] - interval[0], 3) if interval else 0.0)
    order = list(range(len(beats)))
    rng.shuffle(order)
    rows = write_heartbeats([beats[i] for i in order])
    got = {order[j]: float(r["credited"]) for j, r in enumerate(rows)}
    assert [got[i] for i in range(len(beats))] == expected
    assert all(r["status"] == "ok" for r in rows)
    assert sum(1 for c in expected if c) > 20  # the sequence does credit, and caps
    assert watched(s, student, s["lessons"][0]) is not None


def test_a_late_beat_credits_nothing_and_does_not_rewind_the_session(school):
    s = school
    student = enrolled_student(s)
    base = datetime.now(UTC)
    write_heartbeats(
        [beat(s, student, "p", 0, base), beat(s, student, "p", 10, base + timedelta(seconds=10))]
    )
    assert watched(s, student, s["lessons"][0]) == 10.0
    # a beat that arrived at 5 s reaches the database after the one of 10 s
    late = write_heartbeats([beat(s, student, "p", 100, base + timedelta(seconds=5))])[0]
    assert (late["status"], float(late["credited"])) == ("ok", 0.0)
    session = s["admin"].run(
        "SELECT position, last_seen_at FROM watch_sessions WHERE user_id = :u AND session_id = 'p'",
        u=student,
    )
    assert float(session[0][0]) == 10.0 and session[0][1] == base + timedelta(seconds=10)
    # the next beat credits from the session's real last beat (10 s), not the late one
    nxt = write_heartbeats([beat(s, student, "p", 20, base + timedelta(seconds=20))])[0]
    assert float(nxt["credited"]) == 10.0
    assert watched(s, student, s["lessons"][0]) == 20.0
    credited = s["admin"].run(
        "SELECT watch_seconds FROM watch_sessions WHERE user_id = :u AND session_id = 'p'",
        u=student,
    )
    assert float(credited[0][0]) == 20.0  # the session's credits, the late beat's none


def test_one_bad_beat_does_not_cost_the_others(school):
    s = school
    student, stranger = enrolled_student(s), new_user("Stranger")
    base = datetime.now(UTC)
    rows = write_heartbeats(
        [
            beat(s, student, "p", 0, base),
            # a session whose last position overflows numeric(10,3): the channel's set-based
            # statement fails, and the beats are written one by one instead
            beat(s, student, "z", 1e12, base + timedelta(seconds=1)),
            beat(s, stranger, "p", 0, base + timedelta(seconds=1)),  # not a member
            beat(s, student, "q", 0, base + timedelta(seconds=1), lesson=s["other_lesson"]),
            beat(s, student, "p", 4, base + timedelta(seconds=4)),
        ]
    )
    statuses = [r["status"] for r in rows]
    assert statuses[0] == "ok" and statuses[4] == "ok"
    assert statuses[1].startswith("error:") and "overflow" in statuses[1]
    assert statuses[2:4] == ["no_channel", "no_lesson"]
    assert float(rows[4]["credited"]) == 4.0
    assert watched(s, student, s["lessons"][0]) == 4.0


def test_each_beat_is_written_under_its_own_channel(school):
    s = school
    here = enrolled_student(s)
    there = new_user("There")
    s["admin"].run(
        "INSERT INTO memberships (channel_id, user_id, role) VALUES (:c, :u, 'owner')",
        c=s["other"],
        u=there,
    )
    base = datetime.now(UTC)
    rows = write_heartbeats(
        [
            beat(s, here, "h", 0, base),
            beat(s, there, "t", 0, base, channel=s["other"], lesson=s["other_lesson"]),
            # the other channel's lesson, claimed under this channel: row-level security hides it
            beat(s, here, "x", 0, base, lesson=s["other_lesson"]),
            beat(s, here, "h", 3, base + timedelta(seconds=3)),
            beat(
                s,
                there,
                "t",
                3,
                base + timedelta(seconds=3),
                channel=s["other"],
                lesson=s["other_lesson"],
            ),
        ]
    )
    assert [r["status"] for r in rows] == ["ok", "ok", "no_lesson", "ok", "ok"]
    owners = s["admin"].run(
        "SELECT user_id::text, channel_id::text FROM lesson_progress WHERE user_id IN (:a, :b)"
        " ORDER BY 2",
        a=here,
        b=there,
    )
    assert sorted(owners) == sorted([[here, s["channel"]], [there, s["other"]]])


def test_concurrent_batches_of_the_same_lessons_never_deadlock(school):
    """Two writers, the same students' lessons through different sessions, in opposite
    orders: without the advisory locks this deadlocks within a few rounds."""
    s = school
    students = [enrolled_student(s) for _ in range(3)]
    base = datetime.now(UTC)
    failures: list[str] = []

    def writer(name: str, reverse: bool) -> None:
        for rnd in range(25):
            at = base + timedelta(seconds=rnd)
            batch = [
                beat(s, u, f"{name}{k}", float(rnd), at, lesson=lesson)
                for u in students
                for lesson in s["lessons"]
                for k in range(2)
            ]
            if reverse:
                batch.reverse()
            for r in write_heartbeats(batch):
                if r["status"] != "ok":
                    failures.append(r["status"])

    threads = [threading.Thread(target=writer, args=(n, n == "b")) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []
    for u in students:
        for lesson in s["lessons"]:
            assert watched(s, u, lesson) == 24.0  # every session played 0..24 in real time


def test_record_heartbeat_raises_the_refusals(school):
    s = school
    stranger = new_user("Stranger")
    with pytest.raises(progress.NotFound):
        progress.record_heartbeat(
            channel_id=s["channel"],
            lesson_id=s["lessons"][0],
            user_id=stranger,
            session_id="x",
            position=0,
            playing=True,
        )


@pytest.mark.parametrize("seed", range(24))
def test_batches_of_any_size_agree_with_the_reference_model(school, seed):
    """The random sequences of test_heartbeat_sql, written in shuffled batches of 1-15 beats.

    Odd seeds add a poisoned beat to every batch (a position that overflows the session's
    column), so those batches take the one-by-one fallback: it is held to the model too."""
    s = school
    rng = random.Random(1000 + seed)
    lesson, student = s["lessons"][0], enrolled_student(s)
    base = datetime.now(UTC).replace(microsecond=0)
    sessions = ["a", "b"]
    model = LessonWatch(600.0)
    beats, expected, credited = [], [], []
    for k, (pos, playing, at_ms) in enumerate(random_beats(rng, 600.0, rng.randint(1, 60))):
        session = sessions[0] if k % 5 else rng.choice(sessions)
        beats.append(
            beat(s, student, session, pos, base + timedelta(milliseconds=at_ms), playing=playing)
        )
        interval = model.beat(session, position=pos, playing=playing, at=at_ms / 1000)
        expected.append(round(interval[1] - interval[0], 3) if interval else 0.0)
        if interval:
            credited.append(interval)
    got: list[float] = []
    while len(got) < len(beats):
        chunk = list(range(len(got), min(len(beats), len(got) + rng.randint(1, 15))))
        order = rng.sample(chunk, len(chunk))
        # beats that arrived in the same instant are taken in array order: keep theirs
        slots: dict[datetime, list[int]] = {}
        for j, i in enumerate(order):
            slots.setdefault(beats[i].at, []).append(j)
        for same in slots.values():
            for j, i in zip(same, sorted(order[j] for j in same), strict=True):
                order[j] = i
        batch = [beats[i] for i in order]
        if seed % 2:
            batch.append(beat(s, student, f"z{len(got)}", 1e12, batch[-1].at))
        rows = write_heartbeats(batch)
        if seed % 2:
            assert rows.pop()["status"].startswith("error:")
        by_index = {order[j]: float(r["credited"]) for j, r in enumerate(rows)}
        got += [by_index[i] for i in chunk]
    assert got == expected, f"seed {seed}"
    want = round(distinct_seconds(credited), 3)
    assert watched(s, student, lesson) == (want if credited else None)
    done = s["admin"].run(
        "SELECT completed_at IS NOT NULL FROM lesson_progress WHERE user_id = :u", u=student
    )
    assert (done[0][0] if done else False) == is_complete(want, 600.0)


def test_a_failed_completion_step_leaves_the_batch_written_and_the_completion_pending(
    school, monkeypatch
):
    s = school
    student = enrolled_student(s)
    lesson = s["lessons"][1]
    base = datetime.now(UTC)
    write_heartbeats([beat(s, student, "c", 0, base, lesson=lesson)])

    def broken(*args, **kwargs):
        raise RuntimeError("the outbox insert failed")

    real = progress._lesson_completed
    monkeypatch.setattr(progress, "_lesson_completed", broken)
    # 0 -> 560 s in 280 s of real time (2x): past 90% of 600 s
    rows = write_heartbeats(
        [beat(s, student, "c", 560, base + timedelta(seconds=280), lesson=lesson)]
    )
    assert rows[0]["status"] == "ok" and rows[0]["completion_pending"] is True
    assert rows[0]["lesson_completed_now"] is False  # not emitted, and no exception
    assert watched(s, student, lesson) == 560.0  # the batch itself is written
    monkeypatch.setattr(progress, "_lesson_completed", real)
    nxt = write_heartbeats(
        [beat(s, student, "c", 570, base + timedelta(seconds=290), lesson=lesson)]
    )
    assert nxt[0]["lesson_completed_now"] is True
    events = outbox_events(s["admin"], s["channel"], "lesson.completed")
    assert [e["lesson_id"] for e in events if e["user_id"] == student] == [lesson]


def test_staggered_players_in_one_batch_share_real_time(school):
    """Issue 16 item 4 on the set-based path: four players of one student's lesson a quarter
    of the video apart, 2.5 s out of step, written in shuffled batches of 1-15 beats (some
    batches hold several players' beats). Per-session caps completed the lesson in 150 s."""
    s = school
    student, lesson = enrolled_student(s), s["lessons"][0]
    base = datetime.now(UTC).replace(microsecond=0)
    rng = random.Random(16)
    model = LessonWatch(600.0)
    beats, expected = [], []
    for k in range(16):
        for p in range(4):
            at, pos = 10.0 * k + 2.5 * p, 150.0 * p + 10.0 * k
            beats.append(beat(s, student, f"player{p}", pos, base + timedelta(seconds=at)))
            interval = model.beat(f"player{p}", position=pos, playing=True, at=at)
            expected.append(round(interval[1] - interval[0], 3) if interval else 0.0)
    got: list[float] = []
    while len(got) < len(beats):
        chunk = list(range(len(got), min(len(beats), len(got) + rng.randint(1, 15))))
        order = rng.sample(chunk, len(chunk))
        rows = write_heartbeats([beats[i] for i in order])
        by_index = {order[j]: float(r["credited"]) for j, r in enumerate(rows)}
        got += [by_index[i] for i in chunk]
    assert got == expected
    elapsed = 10.0 * 15 + 2.5 * 3
    assert watched(s, student, lesson) <= elapsed * MAX_PLAYBACK_RATE
    done = s["admin"].run(
        "SELECT completed_at FROM lesson_progress WHERE user_id = :u AND lesson_id = :l",
        u=student,
        l=lesson,
    )
    assert done == [[None]]
