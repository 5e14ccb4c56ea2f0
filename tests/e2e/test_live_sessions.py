"""Live classes of a batch over HTTP through the gateway, with the local Zoom stand-in as the
provider: scheduling under the channel's connected Zoom account, who sees the join link, bad
input, Zoom failures, Idempotency-Key replay and cancelling. The host's start link is never in
these answers (tests/e2e/test_live_zoom.py covers `.../start`)."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.helpers import assert_problem, make_channel, member_of, run_sql, signup
from tests.live_zoom_support import connect_zoom

START = "2031-03-01T09:00:00+02:00"
START_UTC = "2031-03-01T07:00:00Z"


def api(gw, cid, suffix=""):
    return f"{gw}/v1/channels/{cid}{suffix}"


def topic() -> str:
    return f"Live {uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def zoom(stack):
    return stack.env["ZOOM_API_BASE"]


def zoom_meetings(zoom, title):
    r = requests.get(f"{zoom}/_local/meetings", params={"topic": title}, timeout=5)
    assert r.status_code == 200
    return r.json()["meetings"]


@pytest.fixture(scope="module")
def world(gateway_url):
    gw = gateway_url
    owner = signup(gw)
    ch = make_channel(gw, owner)
    cid = ch["id"]
    connect_zoom(gw, cid, owner)  # scheduling needs the channel's own Zoom account
    instructor = member_of(gw, cid, owner, "instructor")
    moderator = member_of(gw, cid, owner, "moderator")
    bystander = member_of(gw, cid, owner, "student")  # a member, in no batch
    course = requests.post(
        api(gw, cid, "/courses"), json={"title": "Cohort course"}, headers=owner.headers, timeout=10
    ).json()
    r = requests.post(
        api(gw, cid, f"/courses/{course['id']}/lessons"),
        json={"title": "Welcome", "kind": "text", "body": "Hello"},
        headers=owner.headers,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    r = requests.post(
        api(gw, cid, f"/courses/{course['id']}/publish"), headers=owner.headers, timeout=10
    )
    assert r.status_code == 200, r.text
    batches = []
    for name in ("Spring", "Autumn"):
        r = requests.post(
            api(gw, cid, f"/courses/{course['id']}/batches"),
            json={"name": name, "starts_at": "2031-02-01T00:00:00Z"},
            headers=owner.headers,
            timeout=10,
        )
        assert r.status_code == 201, r.text
        batches.append(r.json()["id"])
    students = []
    for batch_id in batches:
        student = signup(gw)
        r = requests.post(
            api(gw, cid, f"/courses/{course['id']}/enroll"),
            json={"batch_id": batch_id},
            headers=student.headers,
            timeout=10,
        )
        assert r.status_code == 201, r.text
        students.append(student)
    outsider = signup(gw)
    make_channel(gw, outsider)
    return {
        "cid": cid,
        "owner": owner,
        "instructor": instructor,
        "moderator": moderator,
        "bystander": bystander,
        "batch": batches[0],
        "other_batch": batches[1],
        "student": students[0],
        "other_student": students[1],
        "outsider": outsider,
    }


def schedule(gw, world, user=None, batch=None, headers=None, **body):
    user = user or world["instructor"]
    payload = {"title": topic(), "starts_at": START, "duration_minutes": 60, **body}
    return requests.post(
        api(gw, world["cid"], f"/batches/{batch or world['batch']}/sessions"),
        json=payload,
        headers={**user.headers, **(headers or {})},
        timeout=20,
    )


def rows(admin_db, **where):
    sql = "SELECT id, channel_id, batch_id, title, provider, provider_meeting_id, join_url,"
    sql += " status, duration_minutes, starts_at FROM live_sessions WHERE "
    sql += " AND ".join(f"{k} = :{k}" for k in where)
    cols = [
        "id",
        "channel_id",
        "batch_id",
        "title",
        "provider",
        "provider_meeting_id",
        "join_url",
        "status",
        "duration_minutes",
        "starts_at",
    ]
    return [dict(zip(cols, r, strict=True)) for r in run_sql(admin_db, sql, **where)]


def count(admin_db, sql, **params) -> int:
    return run_sql(admin_db, sql, **params)[0][0]


def test_an_instructor_schedules_a_live_class_at_zoom(gateway_url, world, zoom, admin_db):
    title = topic()
    r = schedule(gateway_url, world, title=title, duration_minutes=90)
    assert r.status_code == 201, r.text
    body = r.json()
    [meeting] = zoom_meetings(zoom, title)
    assert body["provider"] == "zoom" and body["status"] == "scheduled"
    assert body["join_url"] == meeting["join_url"]
    assert "start_url" not in body  # fetched fresh by .../start, never stored
    assert body["starts_at"] == START_UTC and body["duration_minutes"] == 90
    # Zoom got the class in its own terms
    assert meeting["start_time"] == START_UTC and meeting["duration"] == 90
    assert meeting["type"] == 2 and meeting["deleted"] is False
    [row] = rows(admin_db, id=body["id"])
    assert str(row["channel_id"]) == world["cid"] and str(row["batch_id"]) == world["batch"]
    assert row["provider_meeting_id"] == str(meeting["id"]) and row["status"] == "scheduled"
    assert row["join_url"] == meeting["join_url"]
    # audit and outbox, written with the row
    assert (
        count(
            admin_db,
            "SELECT count(*) FROM audit_log WHERE action = 'live_session.scheduled'"
            " AND target_id = :t",
            t=body["id"],
        )
        == 1
    )
    payload = run_sql(
        admin_db,
        "SELECT payload FROM outbox WHERE event_type = 'live_session.scheduled'"
        " AND payload->>'session_id' = :s",
        s=body["id"],
    )
    assert len(payload) == 1
    assert payload[0][0]["provider_meeting_id"] == str(meeting["id"])
    assert "join_url" not in payload[0][0] and "start_url" not in payload[0][0]


def test_join_link_only_for_students_of_the_batch_and_staff(gateway_url, world, zoom):
    title = topic()
    created = schedule(gateway_url, world, title=title).json()
    [meeting] = zoom_meetings(zoom, title)
    one = api(gateway_url, world["cid"], f"/batches/{world['batch']}/sessions/{created['id']}")
    listing = api(gateway_url, world["cid"], f"/batches/{world['batch']}/sessions?limit=100")

    def seen(user):
        got = requests.get(one, headers=user.headers, timeout=10)
        listed = requests.get(listing, headers=user.headers, timeout=10)
        return got, listed

    for who, staff in (("student", False), ("moderator", True), ("owner", True)):
        got, listed = seen(world[who])
        assert got.status_code == 200, (who, got.text)
        assert got.json()["join_url"] == meeting["join_url"], who
        assert "start_url" not in got.json(), who
        assert (got.json()["provider_meeting_id"] == str(meeting["id"])) is staff, who
        mine = [s for s in listed.json()["items"] if s["id"] == created["id"]]
        assert mine and mine[0]["join_url"] == meeting["join_url"], who
    for who in ("other_student", "bystander"):  # another batch's student; a member in none
        got, listed = seen(world[who])
        assert_problem(got, 403)
        assert_problem(listed, 403)
        assert meeting["join_url"] not in got.text + listed.text
    got, listed = seen(world["outsider"])  # another channel's user
    assert_problem(got, 404)
    assert_problem(listed, 404)
    assert_problem(requests.get(one, timeout=10), 401)


def test_a_student_whose_enrollment_ended_sees_the_schedule_without_the_link(
    gateway_url, world, zoom, admin_db
):
    title = topic()
    created = schedule(gateway_url, world, title=title).json()
    conn = admin_db()
    conn.run(
        "UPDATE enrollments SET status = 'ended', ended_at = now(), ended_reason = 'refunded'"
        " WHERE user_id = :u AND batch_id = :b",
        u=world["other_student"].id,
        b=world["other_batch"],
    )
    try:
        other = schedule(gateway_url, world, title=topic(), batch=world["other_batch"]).json()
        r = requests.get(
            api(
                gateway_url, world["cid"], f"/batches/{world['other_batch']}/sessions/{other['id']}"
            ),
            headers=world["other_student"].headers,
            timeout=10,
        )
        assert r.status_code == 200, r.text
        assert r.json()["join_url"] is None and r.json()["title"] == other["title"]
    finally:
        conn.run(
            "UPDATE enrollments SET status = 'active', ended_at = NULL, ended_reason = NULL"
            " WHERE user_id = :u AND batch_id = :b",
            u=world["other_student"].id,
            b=world["other_batch"],
        )
    assert created["join_url"]


@pytest.mark.parametrize(
    ("who", "status"), [("student", 403), ("moderator", 403), ("outsider", 404)]
)
def test_only_instructors_and_above_schedule(gateway_url, world, zoom, admin_db, who, status):
    title = topic()
    assert_problem(schedule(gateway_url, world, user=world[who], title=title), status)
    assert zoom_meetings(zoom, title) == []
    assert rows(admin_db, title=title) == []


BAD = [
    {"duration_minutes": 0},
    {"duration_minutes": 1441},
    {"duration_minutes": "60"},
    {"duration_minutes": 60.5},
    {"duration_minutes": True},
    {"duration_minutes": None},
    {"starts_at": "2031-03-01T09:00:00"},  # no time zone
    {"starts_at": "next tuesday"},
    {"starts_at": "2001-01-01T00:00:00Z"},  # in the past
    {"title": ""},
    {"title": "x" * 201},
    {"title": None},
    {"provider_meeting_id": "123"},  # not a field clients may set
]


@pytest.mark.parametrize("bad", BAD, ids=[str(b)[:40] for b in BAD])
def test_bad_input_is_422_and_writes_nothing(gateway_url, world, zoom, admin_db, bad):
    title = bad.get("title") if isinstance(bad.get("title"), str) else topic()
    before = count(admin_db, "SELECT count(*) FROM live_sessions")
    r = schedule(gateway_url, world, **{"title": title, **bad})
    body = assert_problem(r, 422)
    assert body["errors"] and body["errors"][0]["loc"][0] == "body"
    if title:
        assert zoom_meetings(zoom, title) == []
    assert count(admin_db, "SELECT count(*) FROM live_sessions") == before


def test_missing_fields_and_unknown_batch(gateway_url, world):
    r = requests.post(
        api(gateway_url, world["cid"], f"/batches/{world['batch']}/sessions"),
        json={"title": "only a title"},
        headers=world["instructor"].headers,
        timeout=10,
    )
    assert {tuple(e["loc"]) for e in assert_problem(r, 422)["errors"]} == {
        ("body", "starts_at"),
        ("body", "duration_minutes"),
    }
    assert_problem(schedule(gateway_url, world, batch=str(uuid.uuid4())), 404)
    assert_problem(schedule(gateway_url, world, batch="not-a-uuid"), 404)


@pytest.mark.parametrize(("zoom_status", "ours"), [(429, 503), (500, 502), (502, 502)])
def test_zoom_failure_is_5xx_problem_and_stores_nothing(
    gateway_url, world, zoom, admin_db, zoom_status, ours
):
    title = topic()
    r = requests.post(
        f"{zoom}/_local/failures", json={"status": zoom_status, "topic": title}, timeout=5
    )
    assert r.status_code == 201
    key = uuid.uuid4().hex
    failed = schedule(gateway_url, world, title=title, headers={"Idempotency-Key": key})
    body = assert_problem(failed, ours)
    assert "zoom" in body["detail"].lower()
    if ours == 503:
        assert int(failed.headers["Retry-After"]) >= 1
    assert rows(admin_db, title=title) == []
    assert zoom_meetings(zoom, title) == []
    assert (
        count(
            admin_db,
            "SELECT count(*) FROM outbox WHERE event_type = 'live_session.scheduled'"
            " AND payload->>'batch_id' = :b AND occurred_at > now() - interval '1 minute'"
            " AND NOT EXISTS (SELECT 1 FROM live_sessions s WHERE s.id::text ="
            " outbox.payload->>'session_id')",
            b=world["batch"],
        )
        == 0
    )
    # a failed attempt does not burn the key: the retry schedules the class, once
    retried = schedule(gateway_url, world, title=title, headers={"Idempotency-Key": key})
    assert retried.status_code == 201, retried.text
    assert len(zoom_meetings(zoom, title)) == 1 and len(rows(admin_db, title=title)) == 1


def test_idempotency_key_replay_creates_one_meeting(gateway_url, world, zoom, admin_db):
    title, key = topic(), uuid.uuid4().hex
    first = schedule(gateway_url, world, title=title, headers={"Idempotency-Key": key})
    again = schedule(gateway_url, world, title=title, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert len(zoom_meetings(zoom, title)) == 1
    assert len(rows(admin_db, title=title)) == 1
    other_body = schedule(
        gateway_url, world, title=title, duration_minutes=30, headers={"Idempotency-Key": key}
    )
    assert_problem(other_body, 409)
    assert len(zoom_meetings(zoom, title)) == 1


def test_cancelling_deletes_the_meeting_at_zoom(gateway_url, world, zoom, admin_db):
    title = topic()
    created = schedule(gateway_url, world, title=title).json()
    url = api(gateway_url, world["cid"], f"/batches/{world['batch']}/sessions/{created['id']}")
    assert_problem(requests.delete(url, headers=world["student"].headers, timeout=10), 403)
    assert zoom_meetings(zoom, title)[0]["deleted"] is False

    r = requests.delete(url, headers=world["instructor"].headers, timeout=20)
    assert r.status_code == 204, r.text
    [meeting] = zoom_meetings(zoom, title)
    assert meeting["deleted"] is True
    [row] = rows(admin_db, id=created["id"])
    assert row["status"] == "cancelled"
    seen = requests.get(url, headers=world["student"].headers, timeout=10).json()
    assert seen["status"] == "cancelled" and seen["join_url"] is None

    again = requests.delete(url, headers=world["instructor"].headers, timeout=20)
    assert again.status_code == 204
    assert (
        count(
            admin_db,
            "SELECT count(*) FROM audit_log WHERE action = 'live_session.cancelled'"
            " AND target_id = :t",
            t=created["id"],
        )
        == 1
    )
    assert_problem(requests.delete(url + "x", headers=world["instructor"].headers, timeout=10), 404)


def test_cancel_when_zoom_fails_keeps_the_session(gateway_url, world, zoom, admin_db):
    title = topic()
    created = schedule(gateway_url, world, title=title).json()
    [meeting] = zoom_meetings(zoom, title)
    requests.post(
        f"{zoom}/_local/failures",
        json={"status": 500, "method": "DELETE", "path": f"/v2/meetings/{meeting['id']}"},
        timeout=5,
    )
    url = api(gateway_url, world["cid"], f"/batches/{world['batch']}/sessions/{created['id']}")
    assert_problem(requests.delete(url, headers=world["instructor"].headers, timeout=20), 502)
    assert rows(admin_db, id=created["id"])[0]["status"] == "scheduled"
    assert zoom_meetings(zoom, title)[0]["deleted"] is False
    assert requests.delete(url, headers=world["instructor"].headers, timeout=20).status_code == 204
    assert rows(admin_db, id=created["id"])[0]["status"] == "cancelled"


def test_sessions_list_in_schedule_order_page_by_page(gateway_url, world):
    # a batch of its own, so other tests' sessions do not interleave
    owner = world["owner"]
    course_id = requests.get(
        api(gateway_url, world["cid"], f"/batches/{world['batch']}"),
        headers=owner.headers,
        timeout=10,
    ).json()["course_id"]
    batch = requests.post(
        api(gateway_url, world["cid"], f"/courses/{course_id}/batches"),
        json={"name": "Paging", "starts_at": "2031-02-01T00:00:00Z"},
        headers=owner.headers,
        timeout=10,
    ).json()["id"]
    starts = ["2031-05-03T10:00:00Z", "2031-05-01T10:00:00Z", "2031-05-02T10:00:00Z"]
    for s in starts:
        assert schedule(gateway_url, world, batch=batch, starts_at=s).status_code == 201
    url = api(gateway_url, world["cid"], f"/batches/{batch}/sessions")
    first = requests.get(url, params={"limit": 2}, headers=owner.headers, timeout=10).json()
    assert [s["starts_at"] for s in first["items"]] == sorted(starts)[:2]
    assert first["next_cursor"]
    rest = requests.get(
        url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=owner.headers, timeout=10
    ).json()
    assert [s["starts_at"] for s in rest["items"]] == sorted(starts)[2:]
    assert rest["next_cursor"] is None
    bad = requests.get(url, params={"cursor": "garbage"}, headers=owner.headers, timeout=10)
    assert_problem(bad, 422)
    assert_problem(requests.get(url, params={"limit": 101}, headers=owner.headers, timeout=10), 422)


# -- rescheduling ------------------------------------------------------------------------------
def session_url(gw, world, session_id):
    return api(gw, world["cid"], f"/batches/{world['batch']}/sessions/{session_id}")


def zoom_patches(zoom, meeting_id):
    r = requests.get(f"{zoom}/_local/requests", timeout=5)
    return [
        q
        for q in r.json()["requests"]
        if q["method"] == "PATCH" and q["path"] == f"/v2/meetings/{meeting_id}"
    ]


def test_rescheduling_moves_the_meeting_at_zoom_then_here(gateway_url, world, zoom, admin_db):
    title = topic()
    created = schedule(gateway_url, world, title=title).json()
    [meeting] = zoom_meetings(zoom, title)
    url = session_url(gateway_url, world, created["id"])
    change = {"title": topic(), "starts_at": "2031-03-02T10:30:00+01:00", "duration_minutes": 90}
    assert_problem(
        requests.patch(url, json=change, headers=world["student"].headers, timeout=10), 403
    )
    assert zoom_patches(zoom, meeting["id"]) == []

    r = requests.patch(url, json=change, headers=world["instructor"].headers, timeout=20)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["title"], body["duration_minutes"]) == (change["title"], 90)
    [moved] = zoom_meetings(zoom, change["title"])
    assert moved["id"] == meeting["id"]
    assert (moved["start_time"], moved["duration"]) == ("2031-03-02T09:30:00Z", 90)
    [row] = rows(admin_db, id=created["id"])
    assert (row["title"], row["duration_minutes"]) == (change["title"], 90)
    assert row["starts_at"].isoformat().startswith("2031-03-02T09:30:00")
    seen = requests.get(url, headers=world["student"].headers, timeout=10).json()
    assert seen["starts_at"].startswith("2031-03-02T09:30:00") and seen["join_url"]

    # the same change again changes nothing, at Zoom or in the audit log
    again = requests.patch(url, json=change, headers=world["instructor"].headers, timeout=20)
    assert again.status_code == 200
    assert len(zoom_patches(zoom, meeting["id"])) == 1
    audited = count(
        admin_db,
        "SELECT count(*) FROM audit_log WHERE action = 'live_session.rescheduled'"
        " AND target_id = :t",
        t=created["id"],
    )
    assert audited == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"title": ""},
        {"duration_minutes": 0},
        {"duration_minutes": "60"},
        {"starts_at": "2031-03-02T10:30:00"},  # no time zone
        {"starts_at": "2020-01-01T00:00:00Z"},  # in the past
    ],
)
def test_bad_reschedules_are_422_and_change_nothing(gateway_url, world, zoom, admin_db, bad):
    title = topic()
    created = schedule(gateway_url, world, title=title).json()
    [meeting] = zoom_meetings(zoom, title)
    url = session_url(gateway_url, world, created["id"])
    assert_problem(
        requests.patch(url, json=bad, headers=world["instructor"].headers, timeout=10), 422
    )
    assert zoom_patches(zoom, meeting["id"]) == []
    [row] = rows(admin_db, id=created["id"])
    assert (row["title"], row["duration_minutes"]) == (title, 60)


@pytest.mark.parametrize(("zoom_status", "ours"), [(429, 503), (500, 502), (404, 409)])
def test_a_reschedule_zoom_refuses_changes_nothing_here(
    gateway_url, world, zoom, admin_db, zoom_status, ours
):
    title = topic()
    created = schedule(gateway_url, world, title=title).json()
    [meeting] = zoom_meetings(zoom, title)
    requests.post(
        f"{zoom}/_local/failures",
        json={"status": zoom_status, "method": "PATCH", "path": f"/v2/meetings/{meeting['id']}"},
        timeout=5,
    )
    url = session_url(gateway_url, world, created["id"])
    r = requests.patch(
        url, json={"duration_minutes": 30}, headers=world["instructor"].headers, timeout=20
    )
    assert_problem(r, ours)
    assert rows(admin_db, id=created["id"])[0]["duration_minutes"] == 60


def test_a_cancelled_class_cannot_be_rescheduled(gateway_url, world, zoom):
    created = schedule(gateway_url, world).json()
    url = session_url(gateway_url, world, created["id"])
    assert requests.delete(url, headers=world["instructor"].headers, timeout=20).status_code == 204
    r = requests.patch(
        url, json={"duration_minutes": 30}, headers=world["instructor"].headers, timeout=20
    )
    assert_problem(r, 409)
