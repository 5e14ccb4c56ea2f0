"""Calendars and reminders over HTTP: the private ICS feed (stable UIDs, SEQUENCE growing when a
session moves, cancelled ones marked, only the holder's batches, revoked by asking again, a
forged URL 404), and the reminder cron mailing each active student exactly once per session
and kind, never for a cancelled session."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta

import pytest
import requests
from icalendar import Calendar

from tests.helpers import assert_problem, eventually, run_sql
from tests.live_support import add_session, make_world

pytestmark = pytest.mark.e2e


def feed_url(gw, user):
    r = requests.get(f"{gw}/v1/me/calendar", headers=user.headers, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["ics_url"]


def vevents(url):
    r = requests.get(url, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/calendar")
    return {str(e["UID"]).split("@")[0]: e for e in Calendar.from_ical(r.content).walk("VEVENT")}


@pytest.fixture(scope="module")
def world(gateway_url):
    return make_world(gateway_url, students=2)


def test_the_feed_lists_my_batches_with_stable_uids_and_sequence(gateway_url, world, admin_db):
    gw, w = gateway_url, world
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    mine = add_session(admin_db, w, starts_at=soon, title="Week 1")
    gone = add_session(admin_db, w, starts_at=soon + timedelta(days=7), title="Week 2")
    other = add_session(admin_db, w, starts_at=soon, batch_id=w.other_batch_id, title="Other")
    url = feed_url(gw, w.students[0])
    first = vevents(url)
    assert mine["id"] in first and gone["id"] in first and other["id"] not in first
    ev = first[mine["id"]]
    assert str(ev["SUMMARY"]) == "Week 1" and int(ev["SEQUENCE"]) == 0
    assert ev.decoded("dtstart") == soon
    assert str(ev["STATUS"]) == "CONFIRMED"

    # the session moves (any path: here straight in the table) and another is cancelled
    conn = admin_db()
    conn.run(
        "UPDATE live_sessions SET starts_at = starts_at + interval '1 hour' WHERE id = :s",
        s=mine["id"],
    )
    conn.run(
        "UPDATE live_sessions SET status = 'cancelled', cancelled_at = now() WHERE id = :s",
        s=gone["id"],
    )
    again = vevents(url)
    assert set(again) == set(first)  # same UIDs: calendar apps update, never duplicate
    assert int(again[mine["id"]]["SEQUENCE"]) == 1
    assert again[mine["id"]].decoded("dtstart") == soon + timedelta(hours=1)
    assert str(again[gone["id"]]["STATUS"]) == "CANCELLED"
    assert int(again[gone["id"]]["SEQUENCE"]) == 1

    # staff see every batch of the channel they teach
    staff = vevents(feed_url(gw, w.instructor))
    assert {mine["id"], gone["id"], other["id"]} <= set(staff)
    # a member in no batch sees none of them
    assert not {mine["id"], other["id"]} & set(vevents(feed_url(gw, w.bystander)))


def test_asking_again_revokes_the_old_url_and_forgeries_are_404(gateway_url, world):
    gw, w = gateway_url, world
    old = feed_url(gw, w.students[1])
    new = feed_url(gw, w.students[1])
    assert old != new
    assert requests.get(new, timeout=10).status_code == 200
    assert_problem(requests.get(old, timeout=10), 404)
    token = new.rsplit("/", 1)[1].removesuffix(".ics")
    body, mac = token.split(".")
    mine = feed_url(gw, w.students[0]).rsplit("/", 1)[1].removesuffix(".ics").split(".")[0]
    for forged in (f"{mine}.{mac}", f"{body}.{mac[:-3]}abc", "x.y", "garbage"):
        r = requests.get(f"{gw}/v1/calendar/{forged}.ics", timeout=10)
        assert_problem(r, 404)
    assert_problem(requests.get(f"{gw}/v1/me/calendar", timeout=10), 401)


def mails(mail_dir, to, subject):
    found = []
    for path in sorted(mail_dir.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        rcpts = f"{msg.get('X-Envelope-To', '')},{msg.get('To', '')}".lower()
        if to.lower() in rcpts and subject in str(msg["Subject"]):
            found.append(msg)
    return found


def run_cron(gw):
    r = requests.post(f"{gw}/_internal/live_reminders", json={}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def test_reminders_are_mailed_once_per_student_session_and_kind(gateway_url, admin_db, mail_dir):
    gw = gateway_url
    w = make_world(gw, students=2)
    now = datetime.now(UTC).replace(microsecond=0)
    tomorrow = add_session(admin_db, w, starts_at=now + timedelta(hours=20), title="Tmrw class")
    in_an_hour = add_session(admin_db, w, starts_at=now + timedelta(minutes=40), title="Soon class")
    cancelled = add_session(admin_db, w, starts_at=now + timedelta(hours=2), title="Off class")
    far = add_session(admin_db, w, starts_at=now + timedelta(days=3), title="Far class")
    run_sql(
        admin_db,
        "UPDATE live_sessions SET status = 'cancelled', cancelled_at = now() WHERE id = :s",
        s=cancelled["id"],
    )
    for _ in range(3):  # the cron runs again and again: nothing is sent twice
        run_cron(gw)
    for st in w.students:
        eventually(
            lambda st=st: mails(mail_dir, st.email, "Soon class"),
            until=bool,
            timeout=10,
            interval=0.2,
            what="the 1 h reminder",
        )
        assert len(mails(mail_dir, st.email, "Live class tomorrow: Tmrw class")) == 1
        assert len(mails(mail_dir, st.email, "Live class in an hour: Soon class")) == 1
        assert mails(mail_dir, st.email, "Off class") == []
        assert mails(mail_dir, st.email, "Far class") == []
    claims = run_sql(
        admin_db,
        "SELECT session_id::text, kind, count(*) FROM live_reminders WHERE channel_id = :c"
        " GROUP BY 1, 2",
        c=w.cid,
    )
    assert sorted((s, k, n) for s, k, n in claims) == sorted(
        [(tomorrow["id"], "24h", 2), (in_an_hour["id"], "1h", 2)]
    )
    assert far["id"] not in {s for s, _, _ in claims}


def test_a_move_through_the_api_mails_the_students_and_bumps_the_sequence(
    gateway_url, wait_for_mail
):
    """The real path: PATCH the session (Zoom first, then the row and its
    live_session.rescheduled event), Pub/Sub pushes the event to live_notices, which mails
    each active student; the feed shows the same UID with a higher SEQUENCE."""
    from tests.live_zoom_support import connect_zoom

    gw = gateway_url
    w = make_world(gw, students=2)
    connect_zoom(gw, w.cid, w.owner)
    base = f"{gw}/v1/channels/{w.cid}/batches/{w.batch_id}/sessions"
    r = requests.post(
        base,
        json={"title": "Moved by API", "starts_at": "2031-06-01T10:00:00Z", "duration_minutes": 45},
        headers=w.instructor.headers,
        timeout=20,
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    url = feed_url(gw, w.students[0])
    assert int(vevents(url)[sid]["SEQUENCE"]) == 0
    r = requests.patch(
        f"{base}/{sid}",
        json={"starts_at": "2031-06-02T10:00:00Z"},
        headers=w.instructor.headers,
        timeout=20,
    )
    assert r.status_code == 200, r.text
    for st in w.students:
        msg = wait_for_mail(st.email, timeout=30, subject="Live class moved: Moved by API")
        assert "02 June 2031, 10:00 UTC" in msg.get_body().get_content()
    ev = vevents(url)[sid]
    assert int(ev["SEQUENCE"]) == 1
    assert ev.decoded("dtstart") == datetime(2031, 6, 2, 10, tzinfo=UTC)
