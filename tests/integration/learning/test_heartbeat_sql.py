"""The heartbeat SQL (record_heartbeats(), migrations 0021, 0026, 0027) one beat at a time
against the reference model.

shared.learning.rules.LessonWatch is the reference: the same random sequences of beats
(pauses, seeks both ways, dead time, claims faster than real time, positions past the end,
two players of one student interleaved) go through the SQL function, with the server clock
simulated by `now`, and through the model in Python; every beat must credit the same seconds,
leave the same distinct seconds and complete the lesson on the same beat.

The simulated clock ticks in whole milliseconds and positions are whole milliseconds or
arbitrary floats. Python works in binary floats and SQL in exact decimals (positions arrive
as the decimal the client sent); the rule rounds to 3 decimals, and only an exact x.xxx5 tie
(a position like 24.8995, or a microsecond clock) can round apart by 0.001 s, where the
binary float lies just under the tie. That is float noise of the model, not a different
rule, so the generator does not produce exact ties.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from shared.learning import progress
from shared.learning.rules import MAX_PLAYBACK_RATE, LessonWatch, distinct_seconds, is_complete
from shared.platform import db
from tests import factories
from tests.factories import make_course, new_channel, new_user, random_beats
from tests.helpers import outbox_events

pytestmark = pytest.mark.usefixtures("stack")

DURATIONS = (30.0, 95.5, 600.0, 3600.0)


@pytest.fixture(scope="module")
def school(admin_db):
    admin = admin_db()
    owner = new_user("Owner")
    channel = new_channel(owner)
    course = make_course(admin, channel, owner, lessons=[("video", d) for d in DURATIONS])
    yield {
        "admin": admin,
        "owner": owner,
        "channel": channel,
        "course": course["id"],
        "lessons": dict(zip(DURATIONS, course["lessons"], strict=True)),
    }
    admin.close()


def enrolled_student(s) -> str:
    """A fresh student enrolled in the school's course."""
    return factories.enrolled_student(s["admin"], s["channel"], s["course"])


@pytest.mark.parametrize("seed", range(48))
def test_sql_function_agrees_with_the_reference_model(school, seed):
    s = school
    rng = random.Random(seed)
    duration = rng.choice(DURATIONS)
    lesson, student = s["lessons"][duration], enrolled_student(s)
    base = datetime.now(UTC).replace(microsecond=0)
    beats = random_beats(rng, duration, rng.randint(1, 60))
    sessions = [f"p{seed}-a", f"p{seed}-b"]  # two players of one student, interleaved
    model = LessonWatch(duration)  # the reference: both players of one student's lesson
    credited: list[tuple[float, float]] = []
    complete = False
    for i, (pos, playing, at_ms) in enumerate(beats):
        session = sessions[0] if i % 7 else rng.choice(sessions)
        got = progress.record_heartbeat(
            channel_id=s["channel"],
            lesson_id=lesson,
            user_id=student,
            session_id=session,
            position=pos,
            playing=playing,
            now=base + timedelta(milliseconds=at_ms),
        )
        interval = model.beat(session, position=pos, playing=playing, at=at_ms / 1000)
        if interval:
            credited.append(interval)
        # the model's distinct seconds are float sums; the database keeps exact decimals
        watched = round(distinct_seconds(credited), 3)
        now_complete = is_complete(watched, duration)
        where = f"seed {seed} beat {i}: {(session, pos, playing, at_ms)} model {model}"
        assert got["credited_seconds"] == (
            round(interval[1] - interval[0], 3) if interval else 0.0
        ), where
        if interval:
            assert got["watched_seconds"] == watched, where
        else:
            assert got["watched_seconds"] is None, where
        assert got["lesson_completed_now"] == (now_complete and not complete), where
        complete = now_complete
    row = s["admin"].run(
        "SELECT watched_seconds, completed_at IS NOT NULL FROM lesson_progress"
        " WHERE user_id = :u AND lesson_id = :l",
        u=student,
        l=lesson,
    )
    assert (float(row[0][0]), row[0][1]) == (watched, complete) if row else not credited
    # no analytics event per beat (0103): each session row holds what its beats credited
    events = s["admin"].run(
        "SELECT count(*) FROM analytics_events WHERE user_id = :u"
        " AND event_type = 'lesson.heartbeat'",
        u=student,
    )
    assert events == [[0]]
    per_session = s["admin"].run(
        "SELECT coalesce(sum(watch_seconds), 0) FROM watch_sessions WHERE user_id = :u",
        u=student,
    )
    assert float(per_session[0][0]) == pytest.approx(sum(b - a for a, b in credited), abs=1e-6)


def test_completion_events_survive_a_crash_between_the_two_steps(school):
    """The function committed the completion, the process died before the events did: the
    next heartbeat that merges into the lesson emits them, exactly once."""
    s = school
    lesson, student = s["lessons"][30.0], enrolled_student(s)
    base = datetime.now(UTC).replace(microsecond=0)

    def call(pos, at):  # the SQL function alone, as if the process died right after it
        beat = {"c": s["channel"], "u": student, "l": lesson, "s": "x", "pos": pos, "pl": True}
        return db.call(
            progress.HEARTBEATS_SQL,
            beats=json.dumps([{**beat, "at": (base + timedelta(seconds=at)).isoformat()}]),
            rate=2.0,
            ratio=0.9,
            staff=progress.STAFF_ROLES_LITERAL,
        )[0]

    call(0, 0)
    row = call(28, 14)
    assert row["status"] == "ok" and row["completed_now"] and row["completion_pending"]
    assert float(row["watched_seconds"]) == 28
    lesson_events = [
        e
        for e in outbox_events(s["admin"], s["channel"], "lesson.completed")
        if e["user_id"] == student
    ]
    assert lesson_events == []
    again = progress.record_heartbeat(
        channel_id=s["channel"],
        lesson_id=lesson,
        user_id=student,
        session_id="x",
        position=29,
        playing=True,
        now=base + timedelta(seconds=15),
    )
    assert again["lesson_completed_now"] is True  # re-detected and emitted now
    later = progress.record_heartbeat(
        channel_id=s["channel"],
        lesson_id=lesson,
        user_id=student,
        session_id="x",
        position=30,
        playing=True,
        now=base + timedelta(seconds=16),
    )
    assert later["lesson_completed_now"] is False
    assert not call(30, 17)["completion_pending"]
    lesson_events = [
        e
        for e in outbox_events(s["admin"], s["channel"], "lesson.completed")
        if e["user_id"] == student
    ]
    assert [(e["lesson_id"], e["how"]) for e in lesson_events] == [(lesson, "watch")]


def test_the_tenant_context_ends_with_the_call_and_rls_applies(school):
    s = school
    student = enrolled_student(s)
    progress.record_heartbeat(
        channel_id=s["channel"],
        lesson_id=s["lessons"][30.0],
        user_id=student,
        session_id="ctx",
        position=0,
        playing=True,
    )
    # the pool is LIFO: this is the connection the heartbeat used
    after = db.call(
        "SELECT coalesce(current_setting('app.channel_id', true), '') AS c,"
        " coalesce(current_setting('app.user_id', true), '') AS u,"
        " (SELECT count(*) FROM watch_sessions) AS visible"
    )
    assert after == [{"c": "", "u": "", "visible": 0}]
    definer = s["admin"].run(
        "SELECT proname, prosecdef FROM pg_proc WHERE proname LIKE 'record%heartbeats' ORDER BY 1"
    )
    # SECURITY INVOKER: the caller's row-level security applies
    assert definer == [["record_channel_heartbeats", False], ["record_heartbeats", False]]


@pytest.mark.parametrize("players", [2, 4])
def test_staggered_players_do_not_complete_a_lesson_faster_than_real_time(school, players):
    """Issue 16 item 4: N players a slice of the video apart, beating every 10 s out of step.
    Capped per session (migration 0026), each credited its own span of the same real time:
    four players completed a 600 s lesson in 150 s. Now the student's lesson is credited at
    most MAX_PLAYBACK_RATE times the real time elapsed, and only the first player's window."""
    s = school
    lesson, student = s["lessons"][600.0], enrolled_student(s)
    base = datetime.now(UTC).replace(microsecond=0)
    credited, at, model = 0.0, 0.0, LessonWatch(600.0)
    for k in range(16):
        for p in range(players):
            at, pos = 10.0 * k + 2.5 * p, p * 600.0 / players + 10.0 * k
            interval = model.beat(f"player{p}", position=pos, playing=True, at=at)
            got = progress.record_heartbeat(
                channel_id=s["channel"],
                lesson_id=lesson,
                user_id=student,
                session_id=f"player{p}",
                position=pos,
                playing=True,
                now=base + timedelta(seconds=at),
            )
            assert got["credited_seconds"] == (
                round(interval[1] - interval[0], 3) if interval else 0.0
            ), (k, p)
            credited += got["credited_seconds"]
    row = s["admin"].run(
        "SELECT watched_seconds, completed_at FROM lesson_progress"
        " WHERE user_id = :u AND lesson_id = :l",
        u=student,
        l=lesson,
    )
    watched, completed_at = float(row[0][0]), row[0][1]
    assert completed_at is None
    assert watched == pytest.approx(credited)
    assert watched <= at * MAX_PLAYBACK_RATE  # per-session caps gave players * 150 s
