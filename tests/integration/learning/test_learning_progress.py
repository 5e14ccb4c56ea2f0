"""Watch progress on real Postgres: capping by server time, the SQL union agreeing with the
pure model, no lost seconds under concurrency, completion exactly once, analytics + rollup."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest

from shared.analytics import maintenance as analytics_maintenance
from shared.learning import progress
from shared.learning import service as learning
from shared.learning.rules import MAX_PLAYBACK_RATE, distinct_seconds
from shared.learning.schemas import EnrollIn
from shared.platform.db import transaction
from shared.platform.errors import Conflict, Forbidden, NotFound
from shared.platform.ids import uuid7
from tests.factories import make_course, new_channel, new_user
from tests.helpers import outbox_events, unique

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture
def admin(admin_db):
    conn = admin_db()
    yield conn
    conn.close()


@pytest.fixture
def enrolled(admin):
    owner = new_user("Owner")
    channel = new_channel(owner)
    course = make_course(admin, channel, owner, lessons=(("video", 100.0), ("text", None)))
    student = new_user()
    learning.enroll(channel_id=channel, course_id=course["id"], user_id=student, data=EnrollIn())
    return {
        "owner": owner,
        "channel": channel,
        "course": course["id"],
        "video": course["lessons"][0],
        "text": course["lessons"][1],
        "student": student,
    }


def beat(w, position, *, playing=True, session="s1", user=None, lesson=None, now=None):
    return progress.record_heartbeat(
        channel_id=w["channel"],
        lesson_id=lesson or w["video"],
        user_id=user or w["student"],
        session_id=session,
        position=position,
        playing=playing,
        now=now,
    )


def rewind_clock(admin, w, seconds, session="s1", user=None):
    """Pretend the session's last heartbeat came `seconds` earlier (server time passes), and
    the real time it claimed for the student's lesson ended that much earlier too."""
    admin.run(
        "UPDATE watch_sessions SET last_seen_at = last_seen_at - make_interval(secs => :s),"
        " claimed_until = claimed_until - make_interval(secs => :s)"
        " WHERE user_id = :u AND session_id = :sid",
        s=seconds,
        u=user or w["student"],
        sid=session,
    )


def watched(admin, w, user=None):
    rows = admin.run(
        "SELECT watched_seconds, completed_at FROM lesson_progress"
        " WHERE user_id = :u AND lesson_id = :l",
        u=user or w["student"],
        l=w["video"],
    )
    return (float(rows[0][0]), rows[0][1]) if rows else (0.0, None)


def test_a_claim_beyond_real_time_is_capped_by_the_server_clock(enrolled, admin):
    w = enrolled
    assert beat(w, 0)["credited_seconds"] == 0  # first beat of a session
    rewind_clock(admin, w, 10)
    got = beat(w, 90)  # claims 90 s after 10 s
    assert 10 * MAX_PLAYBACK_RATE - 0.5 <= got["credited_seconds"] <= 10 * MAX_PLAYBACK_RATE + 0.5
    assert not got["lesson_completed_now"]


def test_replays_and_seeks_do_not_inflate_distinct_seconds(enrolled, admin):
    w = enrolled
    beat(w, 0)
    for _ in range(3):  # watch 0-20 three times
        rewind_clock(admin, w, 20)
        beat(w, 20)
        beat(w, 0, playing=True)  # seek back: credits nothing
    assert watched(admin, w)[0] == pytest.approx(20, abs=0.01)


def test_sql_union_agrees_with_the_pure_model(enrolled, admin):
    w = enrolled
    rng = random.Random(7)
    intervals = []
    at = datetime.now(UTC)
    for i in range(40):
        a = round(rng.uniform(0, 95), 3)
        b = round(min(100, a + rng.uniform(0.1, 10)), 3)
        intervals.append((a, b))
        # play a -> b in real time (server clock simulated): credits exactly [a, b)
        beat(w, a, session=f"u{i}", now=at)
        at += timedelta(seconds=b - a)
        got = beat(w, b, session=f"u{i}", now=at)
        assert got["credited_seconds"] == pytest.approx(b - a, abs=0.0005)
    assert watched(admin, w)[0] == pytest.approx(distinct_seconds(intervals), abs=0.001)


def test_concurrent_players_of_one_student_share_one_window_of_real_time(enrolled, admin):
    """Six tabs, each at its own 15 s slice, beat at the same instant, 10 s after their first
    beats: real time is credited once per student and lesson (issue 16 item 4), so exactly
    one tab is credited its 10 s, and no credited second is lost to the concurrency."""
    w = enrolled
    start = datetime.now(UTC).replace(microsecond=0)
    sessions = [f"tab{i}" for i in range(6)]
    for i, s in enumerate(sessions):
        beat(w, i * 15, session=s, now=start)
    barrier = threading.Barrier(len(sessions))
    credited, errors = [], []

    def play(i, s):
        barrier.wait()
        try:
            got = beat(w, i * 15 + 10, session=s, now=start + timedelta(seconds=10))
            credited.append(got["credited_seconds"])
        except Exception as e:  # surfaced by the assert below
            errors.append(e)

    threads = [threading.Thread(target=play, args=(i, s)) for i, s in enumerate(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(credited) == [0.0] * 5 + [10.0]
    assert watched(admin, w)[0] == 10.0


def test_concurrent_beats_that_complete_a_lesson_emit_its_completion_once(enrolled, admin):
    w = enrolled
    tabs = [f"done{i}" for i in range(6)]
    for s in tabs:
        beat(w, 0, session=s)
        rewind_clock(admin, w, 50, session=s)
    barrier = threading.Barrier(len(tabs))
    results, errors = [], []

    def play(i, s):
        barrier.wait()
        try:
            results.append(beat(w, 91 + i, session=s)["lesson_completed_now"])
        except Exception as e:  # surfaced by the assert below
            errors.append(e)

    threads = [threading.Thread(target=play, args=(i, s)) for i, s in enumerate(tabs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [False] * 5 + [True]
    assert len(outbox_events(admin, w["channel"], "lesson.completed")) == 1
    assert admin.run(
        "SELECT completion_emitted FROM lesson_progress WHERE user_id = :u AND lesson_id = :l",
        u=w["student"],
        l=w["video"],
    ) == [[True]]


def test_ninety_percent_completes_the_lesson_once_then_the_text_lesson_completes_the_course(
    enrolled, admin
):
    w = enrolled
    beat(w, 0)
    rewind_clock(admin, w, 45)
    assert not beat(w, 89)["lesson_completed_now"]  # 89 s distinct < 90
    rewind_clock(admin, w, 1)
    assert beat(w, 90)["lesson_completed_now"]
    rewind_clock(admin, w, 5)
    assert not beat(w, 95)["lesson_completed_now"]  # already complete
    assert len(outbox_events(admin, w["channel"], "lesson.completed")) == 1
    with pytest.raises(Conflict):
        progress.complete_lesson(
            channel_id=w["channel"], lesson_id=w["video"], user_id=w["student"]
        )
    done = progress.complete_lesson(
        channel_id=w["channel"], lesson_id=w["text"], user_id=w["student"]
    )
    assert done["course_completed"] is True
    again = progress.complete_lesson(
        channel_id=w["channel"], lesson_id=w["text"], user_id=w["student"]
    )
    assert again["completed_at"] == done["completed_at"]
    events = outbox_events(admin, w["channel"], "course.completed")
    assert [e["course_id"] for e in events] == [w["course"]]
    p = progress.course_progress(
        channel_id=w["channel"], course_id=w["course"], user_id=w["student"]
    )
    assert (p["completed_lessons"], p["total_lessons"], p["percent"]) == (2, 2, 100)
    assert p["watch_seconds"] >= 90 and p["completed_at"] is not None


def test_course_completes_exactly_once_when_last_lessons_complete_concurrently(admin):
    owner = new_user()
    channel = new_channel(owner)
    for _ in range(3):
        course = make_course(admin, channel, owner, lessons=[("text", None)] * 4)
        student = new_user()
        learning.enroll(
            channel_id=channel, course_id=course["id"], user_id=student, data=EnrollIn()
        )
        barrier = threading.Barrier(4)

        def finish(lesson, student=student, barrier=barrier):
            barrier.wait()
            progress.complete_lesson(channel_id=channel, lesson_id=lesson, user_id=student)

        threads = [threading.Thread(target=finish, args=(lid,)) for lid in course["lessons"]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        events = [
            e
            for e in outbox_events(admin, channel, "course.completed")
            if e["course_id"] == course["id"]
        ]
        assert len(events) == 1


def test_viewing_rules(enrolled, admin):
    w = enrolled
    stranger = new_user()
    with pytest.raises(NotFound):
        beat(w, 0, user=stranger)
    member = new_user()
    admin.run(
        "INSERT INTO memberships (channel_id, user_id, role) VALUES (:c, :u, 'student')",
        c=w["channel"],
        u=member,
    )
    with pytest.raises(Forbidden):
        beat(w, 0, user=member)
    with pytest.raises(Forbidden):
        progress.course_progress(channel_id=w["channel"], course_id=w["course"], user_id=member)
    # staff preview without enrolling; draft courses are hidden from students
    assert beat(w, 0, user=w["owner"])["credited_seconds"] == 0
    draft = make_course(admin, w["channel"], w["owner"], status="draft")
    admin.run(
        "INSERT INTO enrollments (id, channel_id, course_id, user_id, source)"
        " VALUES (:i, :c, :co, :u, 'staff')",
        i=uuid7(),
        c=w["channel"],
        co=draft["id"],
        u=w["student"],
    )
    with pytest.raises(NotFound):
        beat(w, 0, lesson=draft["lessons"][0])
    with pytest.raises(NotFound):
        beat(w, 0, lesson=uuid7())
    with pytest.raises(NotFound):
        beat(w, 0, lesson="nope")
    with pytest.raises(Conflict):
        beat(w, 0, lesson=w["text"])
    # nothing was written for refused heartbeats
    n = admin.run(
        "SELECT count(*) FROM watch_sessions WHERE user_id = ANY(CAST(:u AS uuid[]))",
        u=[stranger, member],
    )
    assert n == [[0]]


def test_a_watch_session_is_one_event_and_the_rollup_sums_watch_time(enrolled, admin):
    w = enrolled
    beat(w, 0)
    rewind_clock(admin, w, 10)
    beat(w, 10)
    rewind_clock(admin, w, 10)
    beat(w, 20, playing=False)

    def watched_events():
        return admin.run(
            "SELECT event_type, metadata->>'watch_seconds', metadata->>'beats'"
            " FROM analytics_events WHERE user_id = :u AND event_type LIKE 'lesson.%'",
            u=w["student"],
        )

    assert watched_events() == []  # no event per heartbeat
    analytics_maintenance.maintain(lag_seconds=0)
    assert watched_events() == []  # the session is not idle yet
    done = analytics_maintenance.maintain(lag_seconds=0, idle_seconds=0)
    assert done["sessions_reported"] >= 1
    assert watched_events() == [["lesson.watched", "20.000", "3"]]
    analytics_maintenance.maintain(lag_seconds=0, idle_seconds=0)  # reported once only
    assert len(watched_events()) == 1
    rows = admin.run(
        "SELECT events, users, watch_seconds FROM analytics_daily"
        " WHERE channel_id = :c AND event_type = 'lesson.watched'",
        c=w["channel"],
    )
    assert rows and rows[0][0] == 1 and rows[0][1] == 1 and float(rows[0][2]) == 20.0
    # the session resumes: only the seconds after the report make the next event
    rewind_clock(admin, w, 10)
    beat(w, 20)
    rewind_clock(admin, w, 5)
    beat(w, 25)
    analytics_maintenance.maintain(lag_seconds=0, idle_seconds=0)
    assert sorted(r[1] for r in watched_events()) == ["20.000", "5.000"]
    # tenants read only their own rollup rows, and cannot write them
    with transaction(channel_id=new_channel(new_user())) as tx:
        assert tx.all("SELECT * FROM analytics_daily") == []


def test_monthly_partitions_exist_ahead_and_stray_times_land_in_default(admin):
    names = {
        r[0]
        for r in admin.run(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'analytics_events'::regclass"
        )
    }
    now, nxt = admin.run(
        "SELECT to_char(now() AT TIME ZONE 'UTC', '\"y\"YYYY\"m\"MM'),"
        " to_char((now() AT TIME ZONE 'UTC') + interval '1 month',"
        ' \'"y"YYYY"m"MM\')'
    )[0]
    assert {
        f"analytics_events_{now}",
        f"analytics_events_{nxt}",
        "analytics_events_default",
    } <= names
    channel = new_channel(new_user())
    with transaction(channel_id=channel) as tx:
        tx.exec(
            "INSERT INTO analytics_events (channel_id, event_type, occurred_at)"
            " VALUES (app_channel_id(), 'test.far_future', now() + interval '5 years')"
        )
        assert tx.scalar("SELECT analytics_ensure_partitions(3)") == 4
    where = admin.run(
        "SELECT tableoid::regclass::text FROM analytics_events WHERE channel_id = :c", c=channel
    )
    assert where == [["analytics_events_default"]]
    admin.run("DELETE FROM analytics_events WHERE channel_id = :c", c=channel)


def test_stale_sessions_are_pruned(enrolled, admin):
    w = enrolled
    beat(w, 0, session=unique("old"))
    admin.run(
        "UPDATE watch_sessions SET last_seen_at = now() - interval '2 days' WHERE user_id = :u",
        u=w["student"],
    )
    assert analytics_maintenance.maintain()["sessions_pruned"] >= 1
    assert admin.run("SELECT count(*) FROM watch_sessions WHERE user_id = :u", u=w["student"]) == [
        [0]
    ]
