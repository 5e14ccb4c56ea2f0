"""The KPI summary against a hand-computed fixture: known events (some in the rollups, some in
the raw tail after them), enrollments and ledger rows of one channel, and the figures by
channel, course, batch and time zone, computed by hand below.

Days (UTC): D0 = today - 2, D1 = today - 1, D2 = today.
  s1 (course A, batch BA): enrolled D0 09:00; heartbeat D0 10:00 30.5 s; lesson.completed and
      resource.downloaded D1 23:30/23:40; course.completed today (rolled)
  s2 (course A, no batch): enrolled D1 20:00; heartbeat D0 11:00 20 s; heartbeat today 5 s
      (rolled)
  s3 (course B): enrolled today; heartbeat D0 12:00 7.25 s; heartbeat 2.5 s and
      resource.downloaded today (tail: after the rollups' settled point)
  not counted: a lesson.playback of s1; another channel's heartbeat
  ledger: usd sale 10000 and fee -1000 on D0 10:00 (payment p1: course A, batch BA), usd
      refund -2500 on D1 12:00 (p1, no course on the row), eur sale 5000 on D1 23:50 (course B),
      usd plan_invoice -2900 on D1 (not course revenue)
  certificates: c1 of s1 (course A, batch BA) issued D1 10:00, viewed on its page D1 11:00
      and verified D1 11:05, shared D1 11:10 (a share is not a view); c2 of s3 (course B)
      issued today, viewed today; another channel's certificate viewed today (not counted)
"""

from __future__ import annotations

import json
import secrets
from datetime import date, datetime, timedelta

import pytest

from shared import analytics
from shared.analytics.schemas import ExportQuery, SettingsIn, SummaryQuery
from shared.platform.errors import Forbidden, NotFound, Unprocessable
from shared.platform.ids import uuid7
from tests.factories import enrolled_student, make_batch, make_course, new_channel, new_user

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture(scope="module")
def admin(admin_db):
    conn = admin_db(role="superuser")
    yield conn
    conn.close()


def at(day: date, hhmm: str) -> datetime:
    return datetime.fromisoformat(f"{day.isoformat()}T{hhmm}:00+00:00")


def event(admin, channel, user, kind, course, when=None, **meta) -> None:
    admin.run(
        "INSERT INTO analytics_events (channel_id, user_id, event_type, metadata, occurred_at)"
        " VALUES (:c, :u, :t, CAST(:m AS jsonb), coalesce(CAST(:w AS timestamptz), now()))",
        c=channel,
        u=user,
        t=kind,
        m=json.dumps({"course_id": course, **meta}),
        w=when,
    )


def ledger(admin, channel, key, kind, amount, currency, when, payment=None, course=None):
    admin.run(
        "INSERT INTO ledger_entries (id, channel_id, entry_key, kind, amount, currency,"
        " payment_id, course_id, occurred_at) VALUES (:i, :c, :k, :kind, :a, :cur, :p, :co, :t)",
        i=uuid7(),
        c=channel,
        k=key,
        kind=kind,
        a=amount,
        cur=currency,
        p=payment,
        co=course,
        t=when,
    )


CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def certificate(admin, channel, course, user, when=None) -> str:
    cid = uuid7()
    admin.run(
        "INSERT INTO certificates (id, channel_id, course_id, user_id, code, holder_name,"
        " course_title, subject_hash, subject_salt, issued_at, status_index)"
        " VALUES (:i, :c, :co, :u, :code, 'H', 'T', 'sha256$x', 's',"
        " coalesce(CAST(:w AS timestamptz), now()),"
        " (SELECT coalesce(max(status_index) + 1, 0) FROM certificates WHERE channel_id = :c))",
        i=cid,
        c=channel,
        co=course,
        u=user,
        code="".join(secrets.choice(CODE_ALPHABET) for _ in range(12)),
        w=when,
    )
    return cid


def cert_event(admin, channel, kind, cert, when=None) -> None:
    admin.run(
        "INSERT INTO analytics_events (channel_id, event_type, metadata, occurred_at)"
        " VALUES (:c, :t, CAST(:m AS jsonb), coalesce(CAST(:w AS timestamptz), now()))",
        c=channel,
        t=kind,
        m=json.dumps({"certificate_id": cert, "via": "page"}),
        w=when,
    )


def settle(admin) -> datetime:
    """Roll the rollups forward to now (the cron with no lag)."""
    analytics.maintain(lag_seconds=0)
    return admin.run("SELECT settled_until FROM analytics_rollup_state")[0][0]


@pytest.fixture(scope="module")
def fx(admin):
    owner = new_user("Owner")
    ch = new_channel(owner)
    a = make_course(admin, ch, owner)["id"]
    b = make_course(admin, ch, owner)["id"]
    ba = make_batch(admin, ch, a, None)
    s1, s2 = enrolled_student(admin, ch, a), enrolled_student(admin, ch, a)
    s3 = enrolled_student(admin, ch, b)
    today = admin.run("SELECT (now() AT TIME ZONE 'UTC')::date")[0][0]
    d0, d1 = today - timedelta(days=2), today - timedelta(days=1)
    for user, when in ((s1, at(d0, "09:00")), (s2, at(d1, "20:00"))):
        admin.run("UPDATE enrollments SET created_at = :t WHERE user_id = :u", t=when, u=user)
    admin.run("UPDATE enrollments SET batch_id = :b WHERE user_id = :u", b=ba, u=s1)
    event(admin, ch, s1, "lesson.heartbeat", a, at(d0, "10:00"), watch_seconds=30.5)
    event(admin, ch, s2, "lesson.heartbeat", a, at(d0, "11:00"), watch_seconds=20)
    event(admin, ch, s3, "lesson.heartbeat", b, at(d0, "12:00"), watch_seconds=7.25)
    event(admin, ch, s1, "lesson.completed", a, at(d1, "23:30"))
    event(admin, ch, s1, "resource.downloaded", a, at(d1, "23:40"))
    event(admin, ch, s1, "lesson.playback", a, at(d1, "23:45"))
    event(admin, new_channel(new_user()), s1, "lesson.heartbeat", a, watch_seconds=99)
    event(admin, ch, s2, "lesson.heartbeat", a, watch_seconds=5)
    event(admin, ch, s1, "course.completed", a)
    settled = settle(admin)
    for day in (d0, d1):  # the cron's recompute of an ended day, for the back-dated events
        admin.run("SELECT analytics_rollup_day(:d, :s)", d=day, s=settled)
    event(admin, ch, s3, "lesson.heartbeat", b, watch_seconds=2.5)
    event(admin, ch, s3, "resource.downloaded", b)
    p1 = uuid7()
    admin.run(
        "INSERT INTO payments (id, channel_id, payment_intent_id, user_id, course_id, batch_id,"
        " amount, currency) VALUES (:i, :c, :pi, :u, :co, :b, 10000, 'usd')",
        i=p1,
        c=ch,
        pi=f"pi_{p1}",
        u=s1,
        co=a,
        b=ba,
    )
    ledger(admin, ch, "sale:1", "sale", 10000, "usd", at(d0, "10:00"), p1, a)
    ledger(admin, ch, "fee:1", "platform_fee", -1000, "usd", at(d0, "10:00"), p1, a)
    ledger(admin, ch, "refund:1", "refund", -2500, "usd", at(d1, "12:00"), p1)
    ledger(admin, ch, "sale:2", "sale", 5000, "eur", at(d1, "23:50"), None, b)
    ledger(admin, ch, "plan:1", "plan_invoice", -2900, "usd", at(d1, "08:00"))
    c1 = certificate(admin, ch, a, s1, at(d1, "10:00"))
    cert_event(admin, ch, "certificate.viewed", c1, at(d1, "11:00"))
    cert_event(admin, ch, "certificate.verified", c1, at(d1, "11:05"))
    cert_event(admin, ch, "certificate.shared", c1, at(d1, "11:10"))
    c2 = certificate(admin, ch, b, s3)
    cert_event(admin, ch, "certificate.viewed", c2)
    other_owner = new_user()
    other = new_channel(other_owner)
    oc = make_course(admin, other, other_owner)["id"]
    cert_event(admin, other, "certificate.viewed", certificate(admin, other, oc, other_owner))
    return {
        "ch": ch,
        "owner": owner,
        "a": a,
        "b": b,
        "ba": ba,
        "s1": s1,
        "d0": d0,
        "d1": d1,
        "d2": today,
        "admin": admin,
    }


def ask(fx, **q):
    query = SummaryQuery.model_validate(
        {"from": fx["d0"].isoformat(), "to": fx["d2"].isoformat(), **q}
    )
    return analytics.summary(channel_id=fx["ch"], user_id=fx["owner"], query=query)


def figures(s):
    keys = (
        "watch_seconds",
        "lesson_completions",
        "course_completions",
        "enrollments",
        "resource_downloads",
    )
    return tuple(s[k] for k in keys)


def money(currency, gross, fees, refunds, net):
    return {"currency": currency, "gross": gross, "fees": fees, "refunds": refunds, "net": net}


def test_channel_summary_matches_the_hand_computed_figures(fx):
    s = ask(fx)
    assert figures(s) == (65.25, 1, 1, 3, 2)
    assert (s["certificates_issued"], s["certificate_views"], s["attendance_rate"]) == (2, 3, [])
    assert s["revenue"] == [money("eur", 5000, 0, 0, 5000), money("usd", 10000, 1000, 2500, 6500)]
    d0, d1, d2 = s["series"]
    assert d0["day"] == fx["d0"].isoformat() and d2["day"] == fx["d2"].isoformat()
    assert figures(d0) == (57.75, 0, 0, 1, 0)
    assert figures(d1) == (0.0, 1, 0, 1, 1)
    assert figures(d2) == (7.5, 0, 1, 1, 1)
    assert d0["revenue"] == [money("usd", 10000, 1000, 0, 9000)]
    assert d1["revenue"] == [money("eur", 5000, 0, 0, 5000), money("usd", 0, 0, 2500, -2500)]
    assert d2["revenue"] == []


def test_figures_are_the_same_whichever_side_of_the_roll_the_events_are(fx):
    before = ask(fx)
    settle(fx["admin"])  # the tail moves into the rollups
    assert ask(fx) == before
    assert ask(fx, tz="Etc/UTC")["series"] == before["series"]  # the raw path agrees


def test_course_and_batch_filters(fx):
    s = ask(fx, course_id=fx["a"])
    assert figures(s) == (55.5, 1, 1, 2, 1)
    assert s["revenue"] == [money("usd", 10000, 1000, 2500, 6500)]
    s = ask(fx, batch_id=fx["ba"])  # s1's figures in course A, and the batch's payment
    assert figures(s) == (30.5, 1, 1, 1, 1)
    assert s["revenue"] == [money("usd", 10000, 1000, 2500, 6500)]
    assert figures(ask(fx, course_id=fx["b"])) == (9.75, 0, 0, 1, 1)


def test_days_follow_the_time_zone(fx):
    """Tokyo is UTC+9: D1's 23:30-23:50 UTC events and sale fall on D2 there."""
    s = ask(fx, tz="Asia/Tokyo", to=(fx["d2"] + timedelta(days=1)).isoformat())
    assert figures(s) == (65.25, 1, 1, 3, 2)  # the same events, on other days
    d0, d1, d2, d3 = s["series"]
    assert figures(d0) == (57.75, 0, 0, 1, 0)
    assert figures(d1) == (0.0, 0, 0, 0, 0)
    assert d2["lesson_completions"] == 1
    # today's UTC events are on D2 or D3 in Tokyo, depending on the hour: D1's are on D2
    assert d2["resource_downloads"] + d3["resource_downloads"] == 2
    assert d2["resource_downloads"] >= 1 and d2["enrollments"] >= 1
    assert money("eur", 5000, 0, 0, 5000) in d2["revenue"]
    assert d1["revenue"] == [money("usd", 0, 0, 2500, -2500)]


def test_csv_export_of_the_series_and_of_revenue(fx):
    q = ExportQuery.model_validate(
        {"from": fx["d0"].isoformat(), "to": fx["d2"].isoformat(), "kind": "revenue"}
    )
    out = analytics.export_csv(channel_id=fx["ch"], user_id=fx["owner"], query=q)
    assert out["filename"] == f"analytics-revenue-{fx['d0']}-{fx['d2']}.csv"
    assert out["body"].splitlines() == [
        "day,currency,gross,fees,refunds,net",
        f"{fx['d0']},usd,10000,1000,0,9000",
        f"{fx['d1']},eur,5000,0,0,5000",
        f"{fx['d1']},usd,0,0,2500,-2500",
    ]


def test_staff_only_and_tenant_hidden(fx, admin):
    student = fx["s1"]  # a member of the channel, role student
    with pytest.raises(Forbidden):
        analytics.summary(channel_id=fx["ch"], user_id=student, query=SummaryQuery())
    stranger_channel = new_channel(new_user())
    with pytest.raises(NotFound):
        analytics.summary(channel_id=stranger_channel, user_id=fx["owner"], query=SummaryQuery())
    other_course = make_course(admin, stranger_channel, fx["owner"])["id"]
    for q in (
        {"course_id": other_course},
        {"batch_id": uuid7()},
        {"course_id": "nope"},
        {"course_id": fx["b"], "batch_id": fx["ba"]},
    ):
        with pytest.raises(NotFound):
            ask(fx, **q)


def test_bad_ranges_are_422(fx):
    from pydantic import ValidationError

    for q in (
        {"from": "2026-03-02", "to": "2026-03-01"},
        {"from": "2025-01-01", "to": "2026-01-02"},
        {"tz": "Mars/Base"},
        {"from": "yesterday"},
    ):
        with pytest.raises(ValidationError):
            SummaryQuery.model_validate(q)
    # a `from` after today with no `to` is after the default `to`
    with pytest.raises(Unprocessable):
        ask(fx, **{"from": (fx["d2"] + timedelta(days=5)).isoformat(), "to": None})


def test_the_course_rollup_is_the_lesson_rollup_summed(fx):
    """analytics_daily_courses (migration 0061, kept by triggers) after the fixture's roll
    forwards and day recomputes: the same figures as analytics_daily summed over lessons."""
    admin = fx["admin"]
    ch, user, course = new_channel(new_user()), new_user(), str(uuid7())
    event(admin, ch, user, "lesson.heartbeat", course, watch_seconds=1.5)
    settle(admin)  # a new key: inserted
    event(admin, ch, user, "lesson.heartbeat", course, watch_seconds=2)
    settled = settle(admin)  # the same key again: updated
    today = admin.run("SELECT (CAST(:s AS timestamptz) AT TIME ZONE 'UTC')::date", s=settled)
    admin.run("SELECT analytics_rollup_day(:d, :s)", d=today[0][0], s=settled)  # deleted, re-added
    assert admin.run(
        "SELECT events::int, watch_seconds::float FROM analytics_daily_courses"
        " WHERE channel_id = :c",
        c=ch,
    ) == [[2, 3.5]]
    summed = (
        "SELECT channel_id, day, event_type, course_id, sum(events), sum(watch_seconds)"
        " FROM analytics_daily GROUP BY 1, 2, 3, 4"
    )
    kept = (
        "SELECT channel_id, day, event_type, course_id, events, watch_seconds"
        " FROM analytics_daily_courses WHERE events <> 0 OR watch_seconds <> 0"
    )
    assert admin.run(f"({summed}) EXCEPT ({kept})") == []
    assert admin.run(f"({kept}) EXCEPT ({summed})") == []
    mine = admin.run(
        "SELECT count(*) FROM analytics_daily_courses WHERE channel_id = :c", c=fx["ch"]
    )
    assert mine[0][0] >= 6  # the fixture's days x event types x courses are there


def certs(s):
    return s["certificates_issued"], s["certificate_views"]


def test_certificates_issued_and_viewed(fx):
    s = ask(fx)
    assert [certs(d) for d in s["series"]] == [(0, 0), (1, 2), (1, 1)]
    assert certs(ask(fx, course_id=fx["a"])) == (1, 2)
    assert certs(ask(fx, course_id=fx["b"])) == (1, 1)
    assert certs(ask(fx, batch_id=fx["ba"])) == (1, 2)
    tokyo = ask(fx, tz="Asia/Tokyo", to=(fx["d2"] + timedelta(days=1)).isoformat())
    assert certs(tokyo) == (2, 3)
    assert certs(tokyo["series"][1]) == (1, 2)  # D1 10:00-11:05 UTC is D1 19:00-20:05 Tokyo
    csv = analytics.export_csv(
        channel_id=fx["ch"],
        user_id=fx["owner"],
        query=ExportQuery.model_validate(
            {"from": fx["d0"].isoformat(), "to": fx["d2"].isoformat()}
        ),
    )["body"].splitlines()
    assert csv[0].endswith("certificates_issued,certificate_views")
    assert csv[2].endswith(",1,2")


def test_the_channels_time_zone_sets_the_days_unless_the_request_names_one(fx):
    ch, owner = fx["ch"], fx["owner"]
    assert analytics.get_settings(channel_id=ch, user_id=owner) == {"timezone": "UTC"}
    utc = ask(fx)
    to = (fx["d2"] + timedelta(days=1)).isoformat()
    tokyo = ask(fx, tz="Asia/Tokyo", to=to)
    analytics.put_settings(
        channel_id=ch, user_id=owner, body=SettingsIn.model_validate({"timezone": "Asia/Tokyo"})
    )
    try:
        assert analytics.get_settings(channel_id=ch, user_id=owner) == {"timezone": "Asia/Tokyo"}
        by_channel = ask(fx, to=to)
        assert by_channel["tz"] == "Asia/Tokyo"
        assert by_channel["series"] == tokyo["series"]
        assert ask(fx, tz="UTC")["series"] == utc["series"]  # the request's zone wins
        audit = fx["admin"].run(
            "SELECT details->>'timezone' FROM audit_log WHERE channel_id = :c"
            " AND action = 'analytics.settings_updated'",
            c=ch,
        )
        assert audit == [["Asia/Tokyo"]]
    finally:
        analytics.put_settings(
            channel_id=ch, user_id=owner, body=SettingsIn.model_validate({"timezone": "UTC"})
        )
    assert ask(fx)["series"] == utc["series"]


def test_only_owners_and_admins_set_the_time_zone(fx, admin):
    student = fx["s1"]
    body = SettingsIn.model_validate({"timezone": "Europe/Paris"})
    with pytest.raises(Forbidden):
        analytics.put_settings(channel_id=fx["ch"], user_id=student, body=body)
    with pytest.raises(Forbidden):
        analytics.get_settings(channel_id=fx["ch"], user_id=student)
    with pytest.raises(ValueError):
        SettingsIn.model_validate({"timezone": "Mars/Olympus"})
    assert analytics.get_settings(channel_id=fx["ch"], user_id=fx["owner"])["timezone"] == "UTC"


def test_watch_time_of_open_and_reported_sessions_counts_once(fx):
    """A player session's seconds count while it is open (watch_sessions) and, once the cron
    reports it, as its one lesson.watched event: the figure does not move (0103)."""
    admin, ch = fx["admin"], fx["ch"]
    lesson = admin.run(
        "SELECT id FROM lessons WHERE course_id = :c ORDER BY position LIMIT 1", c=fx["a"]
    )[0][0]
    before = ask(fx)
    admin.run(
        "INSERT INTO watch_sessions (channel_id, user_id, lesson_id, session_id, position,"
        " playing, watch_seconds) VALUES (:c, :u, :l, 'kpi', 12.5, true, 12.5)",
        c=ch,
        u=fx["s1"],
        l=lesson,
    )
    try:
        opened = ask(fx)
        assert opened["watch_seconds"] == before["watch_seconds"] + 12.5
        assert opened["series"][2]["watch_seconds"] == before["series"][2]["watch_seconds"] + 12.5
        assert ask(fx, course_id=fx["a"])["watch_seconds"] == 55.5 + 12.5
        assert ask(fx, course_id=fx["b"])["watch_seconds"] == 9.75
        assert ask(fx, batch_id=fx["ba"])["watch_seconds"] == 30.5 + 12.5
        analytics.maintain(lag_seconds=3600, idle_seconds=0)  # reported, not yet rolled up
        assert ask(fx) == opened
        settle(admin)  # and rolled up
        assert ask(fx) == opened
        assert ask(fx, tz="Etc/UTC")["series"] == opened["series"]
    finally:
        admin.run(
            "DELETE FROM analytics_events WHERE channel_id = :c AND event_type = 'lesson.watched'",
            c=ch,
        )
        admin.run("DELETE FROM watch_sessions WHERE session_id = 'kpi'")
        settled = settle(admin)  # today's figures without the test's session again
        admin.run("SELECT analytics_rollup_day(:d, :s)", d=fx["d2"], s=settled)
