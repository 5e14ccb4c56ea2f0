"""Attendance over HTTP: signed participant events delivered out of order, duplicated, from
several devices and with reconnects become each student's attended seconds (each second once),
guests are kept apart, the channel's threshold decides who attended, batch rates and the CSV
follow, and only staff of the channel read any of it."""

from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timedelta

import pytest
import requests

from tests.helpers import assert_problem, run_sql, signup
from tests.live_support import (
    add_session,
    event,
    make_world,
    participant,
    past,
    post_event,
    zoom_time,
)

pytestmark = pytest.mark.e2e


def parse(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def url(gw, w, suffix):
    return f"{gw}/v1/channels/{w.cid}/batches/{w.batch_id}{suffix}"


@pytest.fixture(scope="module")
def played(gateway_url, admin_db):
    """One ended 60-minute class: student 0 on a laptop and a phone (overlapping), with a
    reconnect; student 1 for 10 minutes; a guest; everything shuffled and sent twice."""
    gw = gateway_url
    w = make_world(gw, students=3)
    # the third student's name would be a formula in a spreadsheet
    run_sql(
        admin_db,
        "UPDATE users SET display_name = '=HYPERLINK(\"http://evil\")' WHERE id = :u",
        u=w.students[2].id,
    )
    t0 = past(90)
    s = add_session(admin_db, w, starts_at=t0, minutes=60)
    acc, m = w.account_id, s["meeting_id"]
    a, b = w.students[0], w.students[1]

    def at(minutes):
        return t0 + timedelta(minutes=minutes)

    bodies = [
        event("meeting.started", acc, m, {"start_time": zoom_time(at(0))}),
        # student 0, laptop: 0-20, reconnect 25-50 (email in other case)
        participant("joined", acc, m, at=at(0), device="a-laptop-1", email=a.email.upper()),
        participant("left", acc, m, at=at(20), device="a-laptop-1", email=a.email.upper()),
        participant("joined", acc, m, at=at(25), device="a-laptop-2", email=a.email),
        participant("left", acc, m, at=at(50), device="a-laptop-2", email=a.email),
        # student 0, phone: 10-30 overlaps both laptop spells -> union 0-50 = 50 minutes
        participant("joined", acc, m, at=at(10), device="a-phone", email=a.email),
        participant("left", acc, m, at=at(30), device="a-phone", email=a.email),
        # student 1: 10 minutes, below the 50% threshold
        participant("joined", acc, m, at=at(5), device="b-1", email=b.email),
        participant("left", acc, m, at=at(15), device="b-1", email=b.email),
        # a guest nobody knows, 40 minutes
        participant(
            "joined",
            acc,
            m,
            at=at(1),
            device="g-1",
            email="guest@elsewhere.org",
            user_name="Guest Person",
        ),
        participant(
            "left",
            acc,
            m,
            at=at(41),
            device="g-1",
            email="guest@elsewhere.org",
            user_name="Guest Person",
        ),
        event("meeting.ended", acc, m, {"end_time": zoom_time(at(60))}),
    ]
    deliveries = bodies * 2
    random.Random(3).shuffle(deliveries)  # leaves before joins, ended before started
    for body in deliveries:
        r = post_event(gw, body)
        assert r.status_code == 200, r.text
    return w, s


def test_each_second_counts_once_across_devices_reconnects_and_reordering(gateway_url, played):
    w, s = played
    r = requests.get(
        url(gateway_url, w, f"/sessions/{s['id']}/attendance"),
        headers=w.instructor.headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    rows = r.json()["items"]
    by_user = {row["user_id"]: row for row in rows if not row["guest"]}
    a, b, c = (by_user[st.id] for st in w.students)
    assert a["attended_seconds"] == 50 * 60 and a["attended"] is True
    assert b["attended_seconds"] == 10 * 60 and b["attended"] is False
    assert c["attended_seconds"] == 0 and c["attended"] is False
    assert parse(a["first_join_at"]) == s["starts_at"]
    assert parse(a["last_leave_at"]) == s["starts_at"] + timedelta(minutes=50)
    guests = [row for row in rows if row["guest"]]
    assert len(guests) == 1
    assert guests[0]["user_id"] is None and guests[0]["display_name"] == "Guest Person"
    assert guests[0]["attended_seconds"] == 40 * 60


def test_batch_rates_count_ended_sessions(gateway_url, played):
    w, s = played
    r = requests.get(url(gateway_url, w, "/attendance"), headers=w.owner.headers, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    (session,) = [x for x in body["sessions"] if x["session_id"] == s["id"]]
    assert session["attendance_rate"] == pytest.approx(1 / 3, abs=1e-3)
    rates = {x["user_id"]: x for x in body["students"]}
    assert rates[w.students[0].id]["sessions_attended"] == 1
    assert rates[w.students[0].id]["attendance_rate"] == 1.0
    assert rates[w.students[1].id]["attendance_rate"] == 0.0


def test_the_csv_has_a_row_per_student_and_session_and_no_formulas(gateway_url, played):
    w, _s = played
    r = requests.get(url(gateway_url, w, "/attendance.csv"), headers=w.owner.headers, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 3  # three students, one session, guests left out
    named = {row["user_id"]: row for row in rows}
    assert named[w.students[0].id]["attended_seconds"] == "3000"
    assert named[w.students[0].id]["attended"] == "yes"
    assert named[w.students[2].id]["display_name"].startswith("'=")  # shown, never run


def test_a_threshold_per_channel_decides_who_attended(gateway_url, played, admin_db):
    w, s = played
    run_sql(
        admin_db, "UPDATE channels SET live_attendance_threshold_pct = 15 WHERE id = :c", c=w.cid
    )
    try:
        r = requests.get(
            url(gateway_url, w, f"/sessions/{s['id']}/attendance"),
            headers=w.owner.headers,
            timeout=10,
        )
        b = next(x for x in r.json()["items"] if x["user_id"] == w.students[1].id)
        assert b["attended"] is True  # 10 of 60 minutes is 16.7%, over 15%
    finally:
        run_sql(
            admin_db,
            "UPDATE channels SET live_attendance_threshold_pct = 50 WHERE id = :c",
            c=w.cid,
        )


def test_each_join_is_an_analytics_event(played, admin_db):
    w, _s = played
    rows = run_sql(
        admin_db,
        "SELECT user_id, metadata->>'guest' FROM analytics_events"
        " WHERE channel_id = :c AND event_type = 'live.joined'",
        c=w.cid,
    )
    # 3 joins of student 0, 1 of student 1, 1 guest; the duplicates added none
    assert sorted(str(u) for u, g in rows if g == "false") == sorted(
        [w.students[0].id] * 3 + [w.students[1].id]
    )
    assert [g for _, g in rows].count("true") == 1


def test_only_staff_of_the_channel_read_attendance(gateway_url, played):
    w, s = played
    paths = [f"/sessions/{s['id']}/attendance", "/attendance", "/attendance.csv"]
    outsider = signup(gateway_url)
    for path in paths:
        assert_problem(
            requests.get(url(gateway_url, w, path), headers=w.students[0].headers, timeout=10),
            403,
        )
        assert_problem(
            requests.get(url(gateway_url, w, path), headers=w.bystander.headers, timeout=10), 403
        )
        assert_problem(
            requests.get(url(gateway_url, w, path), headers=outsider.headers, timeout=10), 404
        )
    # another batch's id, or a session of another batch: 404
    r = requests.get(
        f"{gateway_url}/v1/channels/{w.cid}/batches/{w.other_batch_id}/sessions/{s['id']}"
        "/attendance",
        headers=w.owner.headers,
        timeout=10,
    )
    assert_problem(r, 404)
    r = requests.get(
        f"{gateway_url}/v1/channels/{w.cid}/batches/not-a-uuid/attendance",
        headers=w.owner.headers,
        timeout=10,
    )
    assert_problem(r, 404)


def test_the_stand_in_plays_a_whole_meeting_into_attendance(gateway_url, stack):
    """`make dev`'s path: connect Zoom, schedule, and let the stand-in play the meeting as
    signed webhooks; attendance appears."""
    from tests.live_zoom_support import connect_zoom

    gw = gateway_url
    w = make_world(gw, students=2)
    connect_zoom(gw, w.cid, w.owner)
    r = requests.post(
        url(gw, w, "/sessions"),
        json={"title": "Played class", "starts_at": "2031-05-01T10:00:00Z", "duration_minutes": 60},
        headers=w.instructor.headers,
        timeout=20,
    )
    assert r.status_code == 201, r.text
    session = r.json()
    meeting_id = session["provider_meeting_id"]
    a, b = w.students
    script = {
        "minutes": 60,
        "participants": [
            {"email": a.email, "name": "A", "from": 0, "to": 45},
            {"email": b.email, "name": "B", "from": 5, "to": 15},
            {"email": "visitor@elsewhere.org", "name": "Visitor", "from": 0, "to": 60},
        ],
    }
    standin = stack.env.get("ZOOM_STANDIN_URL") or stack.env["ZOOM_API_BASE"]
    played = requests.post(f"{standin}/_sim/meetings/{meeting_id}/play", json=script, timeout=60)
    assert played.status_code == 200, played.text
    assert [s["status"] for s in played.json()["sent"]] == [200] * 8
    r = requests.get(
        url(gw, w, f"/sessions/{session['id']}/attendance"), headers=w.owner.headers, timeout=10
    )
    assert r.status_code == 200, r.text
    rows = {x["user_id"]: x for x in r.json()["items"]}
    assert rows[a.id]["attended_seconds"] == 45 * 60 and rows[a.id]["attended"] is True
    assert rows[b.id]["attended_seconds"] == 10 * 60 and rows[b.id]["attended"] is False
    assert rows[None]["guest"] is True and rows[None]["display_name"] == "Visitor"
    r = requests.get(url(gw, w, f"/sessions/{session['id']}"), headers=w.owner.headers, timeout=10)
    assert r.json()["status"] == "ended"
