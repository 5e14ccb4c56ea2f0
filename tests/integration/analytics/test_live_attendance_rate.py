"""The summary's `attendance_rate` against a hand-computed fixture: per batch, attended
(active student, ended session) pairs / (active students x sessions ended in the period), the
attended flag being live's (attended seconds >= the channel's 50 % of the scheduled 60 min).

Days (UTC): Y = yesterday, OLD = 10 days ago; the period asked is today - 2 .. today.
  batch B1 (course A): active u1, u2, u3; u4's enrollment ended
    S1 ended Y 11:00: u1 40 min (yes), u2 20 min (no), u3 absent, u4 60 min (not active)
    S2 ended Y 15:00: u1 30 min (yes: exactly half), u2 45 min joined as a Zoom registrant
        with no email (yes), u3 two overlapping devices 10:00-10:20 + 10:10-10:25 = 25 min (no)
    S3 ended OLD: everyone 60 min (outside the period); S4 scheduled; S5 cancelled
    -> 3 / (3 x 2) = 0.5; with OLD in the period: (3 + 3) / (3 x 3) = 0.6667
  batch B2 (course A): v1, S6 ended Y: 60 min -> 1.0
  batch B3 (course B): w1, w2, S7 ended Y: nobody -> 0.0
  another channel: a batch with an attended ended session (never seen here)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared import analytics
from shared.analytics.schemas import SummaryQuery
from shared.platform.ids import uuid7
from tests.factories import enrolled_student, make_batch, make_course, new_channel, new_user

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture(scope="module")
def admin(admin_db):
    conn = admin_db(role="superuser")
    yield conn
    conn.close()


def session(admin, ch, batch, owner, start: datetime, status: str = "ended") -> str:
    sid = str(uuid7())
    admin.run(
        "INSERT INTO live_sessions (id, channel_id, batch_id, title, starts_at, duration_minutes,"
        " provider, provider_meeting_id, join_url, created_by, status, started_at, ended_at,"
        " cancelled_at) VALUES (:i, :c, :b, 'Class', :s, 60, 'zoom', :m, 'https://zoom.local/j',"
        " :u, :st, :sa, :ea, :ca)",
        i=sid,
        c=ch,
        b=batch,
        s=start,
        m=sid,
        u=owner,
        st=status,
        sa=start if status == "ended" else None,
        ea=start + timedelta(hours=1) if status == "ended" else None,
        ca=start if status == "cancelled" else None,
    )
    return sid


def attend(admin, ch, sid, start: datetime, minutes: int, *, email=None, registrant=None,
           device=None, offset: int = 0) -> None:  # fmt: skip
    device = device or email or registrant
    for kind, at in (
        ("join", start + timedelta(minutes=offset)),
        ("leave", start + timedelta(minutes=offset + minutes)),
    ):
        admin.run(
            "INSERT INTO live_participant_events (id, channel_id, session_id, device_key, kind,"
            " at, registrant_id, email) VALUES (:i, :c, :s, :d, :k, :at, :r, :e)",
            i=uuid7(),
            c=ch,
            s=sid,
            d=device,
            k=kind,
            at=at,
            r=registrant,
            e=email,
        )


def student(admin, ch, course, batch) -> tuple[str, str]:
    uid = enrolled_student(admin, ch, course)
    admin.run("UPDATE enrollments SET batch_id = :b WHERE user_id = :u", b=batch, u=uid)
    return uid, admin.run("SELECT email FROM users WHERE id = :u", u=uid)[0][0]


@pytest.fixture(scope="module")
def fx(admin):
    owner = new_user("Owner")
    ch = new_channel(owner)
    a = make_course(admin, ch, owner)["id"]
    b = make_course(admin, ch, owner)["id"]
    b1, b2, b3 = (make_batch(admin, ch, c, None) for c in (a, a, b))
    today = admin.run("SELECT (now() AT TIME ZONE 'UTC')::date")[0][0]
    y = datetime(today.year, today.month, today.day, 10, tzinfo=UTC) - timedelta(days=1)
    old = y - timedelta(days=9)
    (_, e1), (u2, e2), (_, e3), (u4, e4) = (student(admin, ch, a, b1) for _ in range(4))
    admin.run(
        "UPDATE enrollments SET status = 'ended', ended_at = now(), ended_reason = 'refund'"
        " WHERE user_id = :u",
        u=u4,
    )
    s1 = session(admin, ch, b1, owner, y)
    attend(admin, ch, s1, y, 40, email=e1.upper())  # emails match case-insensitively
    attend(admin, ch, s1, y, 20, email=e2)
    attend(admin, ch, s1, y, 60, email=e4)
    s2 = session(admin, ch, b1, owner, y + timedelta(hours=4))
    attend(admin, ch, s2, y + timedelta(hours=4), 30, email=e1)
    admin.run(
        "INSERT INTO live_registrants (channel_id, session_id, user_id, registrant_id)"
        " VALUES (:c, :s, :u, 'reg-u2')",
        c=ch,
        s=s2,
        u=u2,
    )
    attend(admin, ch, s2, y + timedelta(hours=4), 45, registrant="reg-u2")
    attend(admin, ch, s2, y + timedelta(hours=4), 20, email=e3, device="phone")
    attend(admin, ch, s2, y + timedelta(hours=4), 15, email=e3, device="laptop", offset=10)
    s3 = session(admin, ch, b1, owner, old)
    for e in (e1, e2, e3):
        attend(admin, ch, s3, old, 60, email=e)
    session(admin, ch, b1, owner, y + timedelta(days=3), status="scheduled")
    session(admin, ch, b1, owner, y, status="cancelled")
    _, ev1 = student(admin, ch, a, b2)
    s6 = session(admin, ch, b2, owner, y)
    attend(admin, ch, s6, y, 60, email=ev1)
    student(admin, ch, b, b3)
    student(admin, ch, b, b3)
    session(admin, ch, b3, owner, y)
    other_owner = new_user()
    other = new_channel(other_owner)
    oc = make_course(admin, other, other_owner)["id"]
    ob = make_batch(admin, other, oc, None)
    _, oe = student(admin, other, oc, ob)
    os_ = session(admin, other, ob, other_owner, y)
    attend(admin, other, os_, y, 60, email=oe)
    return {"ch": ch, "owner": owner, "a": a, "b": b, "b1": b1, "b2": b2, "b3": b3,
            "today": today}  # fmt: skip


def rates(fx, first_days_ago: int = 2, **q):
    query = SummaryQuery.model_validate(
        {
            "from": (fx["today"] - timedelta(days=first_days_ago)).isoformat(),
            "to": fx["today"].isoformat(),
            **q,
        }
    )
    s = analytics.summary(channel_id=fx["ch"], user_id=fx["owner"], query=query)
    return {r["batch_id"]: r["rate"] for r in s["attendance_rate"]}


def test_rate_per_batch_matches_the_hand_computed_figures(fx):
    assert rates(fx) == {fx["b1"]: 0.5, fx["b2"]: 1.0, fx["b3"]: 0.0}


def test_only_sessions_ended_in_the_period_count(fx):
    assert rates(fx, first_days_ago=11)[fx["b1"]] == 0.6667
    assert rates(fx, first_days_ago=0) == {}  # nothing ended today


def test_course_and_batch_filters(fx):
    assert rates(fx, course_id=fx["a"]) == {fx["b1"]: 0.5, fx["b2"]: 1.0}
    assert rates(fx, course_id=fx["b"]) == {fx["b3"]: 0.0}
    assert rates(fx, batch_id=fx["b2"]) == {fx["b2"]: 1.0}


def test_the_rate_agrees_with_the_live_batch_report(fx):
    """One rule: live's own report of B1 flags the same students present per session."""
    from shared import live

    report = live.batch_attendance(channel_id=fx["ch"], user_id=fx["owner"], batch_id=fx["b1"])
    ended = [s for s in report["sessions"] if s["status"] == "ended"]
    # its students are all the batch's enrollments (u4 too): S1 2/4, S2 2/4, S3 3/4
    assert sorted(s["attendance_rate"] for s in ended) == [0.5, 0.5, 0.75]
