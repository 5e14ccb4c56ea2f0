"""Learning routes over HTTP through the gateway: enrollment, playback, downloads, progress."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from shared.platform.ids import uuid7
from tests.factories import make_batch, make_course
from tests.helpers import assert_problem, eventually, make_channel, member_of, signup

pytestmark = pytest.mark.e2e
MP4 = (Path(__file__).resolve().parent.parent / "fixtures" / "tiny_faststart.mp4").read_bytes()


@pytest.fixture
def admin(admin_db):
    conn = admin_db()
    yield conn
    conn.close()


@pytest.fixture
def school(gateway_url, admin):
    """A channel with a published free course (a ready 3 s video + a text lesson)."""
    from shared.adapters import gcs

    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    course = make_course(admin, ch["id"], owner.id, lessons=(("video", 3.0), ("text", None)))
    video = course["lessons"][0]
    obj = admin.run("SELECT video_object FROM lessons WHERE id = :l", l=video)[0][0]
    gcs.write("media", obj, MP4, content_type="video/mp4")
    return {
        "owner": owner,
        "ch": ch,
        "course": course["id"],
        "video": video,
        "text": course["lessons"][1],
        "c": f"{gateway_url}/v1/channels/{ch['id']}",
    }


def enroll(s, user, **body):
    return requests.post(
        f"{s['c']}/courses/{s['course']}/enroll",
        json=body or None,
        headers=user.headers,
        timeout=10,
    )


def test_free_enrollment_then_409_and_paid_course_402(gateway_url, school, admin):
    s = school
    student = signup(gateway_url)
    r = enroll(s, student)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["course_id"] == s["course"] and body["user_id"] == student.id
    assert body["status"] == "active" and body["source"] == "free"
    assert_problem(enroll(s, student), 409)
    paid = make_course(admin, s["ch"]["id"], s["owner"].id, price=4900)
    r = requests.post(f"{s['c']}/courses/{paid['id']}/enroll", headers=student.headers, timeout=10)
    assert assert_problem(r, 402)["checkout_required"] is True


def test_enroll_input_and_auth_errors_write_nothing(gateway_url, school, admin):
    s = school
    student = signup(gateway_url)
    assert_problem(enroll(s, student, seat=3), 422)
    assert_problem(requests.post(f"{s['c']}/courses/{s['course']}/enroll", timeout=10), 401)
    assert_problem(
        requests.post(f"{s['c']}/courses/{uuid7()}/enroll", headers=student.headers, timeout=10),
        404,
    )
    assert_problem(
        requests.post(
            f"{gateway_url}/v1/channels/nope/courses/x/enroll", headers=student.headers, timeout=10
        ),
        404,
    )
    assert admin.run("SELECT count(*) FROM enrollments WHERE user_id = :u", u=student.id) == [[0]]


def test_full_batch_is_409_and_idempotency_key_replays(gateway_url, school, admin):
    s = school
    batch = make_batch(admin, s["ch"]["id"], s["course"], capacity=1)
    first = signup(gateway_url)
    key = {"Idempotency-Key": uuid7()}
    r1 = requests.post(
        f"{s['c']}/courses/{s['course']}/enroll",
        json={"batch_id": batch},
        headers={**first.headers, **key},
        timeout=10,
    )
    r2 = requests.post(
        f"{s['c']}/courses/{s['course']}/enroll",
        json={"batch_id": batch},
        headers={**first.headers, **key},
        timeout=10,
    )
    assert r1.status_code == r2.status_code == 201 and r1.json() == r2.json()
    r = enroll(s, signup(gateway_url), batch_id=batch)
    assert assert_problem(r, 409)["detail"] == "batch full"


def test_my_enrollments_list_across_channels(gateway_url, school, admin):
    s = school
    student = signup(gateway_url)
    other_owner = signup(gateway_url)
    other = make_channel(gateway_url, other_owner)
    other_course = make_course(admin, other["id"], other_owner.id, lessons=(("text", None),))
    assert enroll(s, student).status_code == 201
    r = requests.post(
        f"{gateway_url}/v1/channels/{other['id']}/courses/{other_course['id']}/enroll",
        headers=student.headers,
        timeout=10,
    )
    assert r.status_code == 201
    r = requests.get(f"{gateway_url}/v1/me/enrollments", headers=student.headers, timeout=10)
    assert r.status_code == 200
    items = r.json()["items"]
    assert {i["channel"]["id"] for i in items} == {s["ch"]["id"], other["id"]}
    assert r.json()["next_cursor"] is None
    page = requests.get(
        f"{gateway_url}/v1/me/enrollments?limit=1", headers=student.headers, timeout=10
    ).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    assert_problem(
        requests.get(
            f"{gateway_url}/v1/me/enrollments?limit=101", headers=student.headers, timeout=10
        ),
        422,
    )
    assert_problem(requests.get(f"{gateway_url}/v1/me/enrollments", timeout=10), 401)


def test_playback_only_for_enrolled_students_and_staff(gateway_url, school):
    s = school
    url = f"{s['c']}/lessons/{s['video']}/playback"
    student = signup(gateway_url)
    enroll(s, student)
    r = requests.get(url, headers=student.headers, timeout=10)
    assert r.status_code == 200, r.text
    signed = r.json()
    assert signed["expires_at"].endswith("Z") and "X-Goog-Signature" in signed["url"]
    assert requests.get(signed["url"], timeout=10).content == MP4
    # staff preview without enrolling
    instructor = member_of(gateway_url, s["ch"]["id"], s["owner"], "instructor")
    assert requests.get(url, headers=instructor.headers, timeout=10).status_code == 200
    # a member who is not enrolled: 403; a stranger or another channel's owner: 404
    member = member_of(gateway_url, s["ch"]["id"], s["owner"], "student")
    assert_problem(requests.get(url, headers=member.headers, timeout=10), 403)
    assert_problem(requests.get(url, headers=signup(gateway_url).headers, timeout=10), 404)
    elsewhere = signup(gateway_url)
    make_channel(gateway_url, elsewhere)
    assert_problem(requests.get(url, headers=elsewhere.headers, timeout=10), 404)
    # a text lesson has no video
    text = f"{s['c']}/lessons/{s['text']}/playback"
    assert_problem(requests.get(text, headers=student.headers, timeout=10), 409)


def test_heartbeats_progress_and_explicit_completion(gateway_url, school, admin):
    s = school
    student = signup(gateway_url)
    enroll(s, student)
    hb = f"{s['c']}/lessons/{s['video']}/heartbeats"
    r = requests.post(
        hb,
        json={"session_id": "p1", "position_seconds": 0, "playing": True},
        headers=student.headers,
        timeout=10,
    )
    assert r.status_code == 204 and r.content == b""
    for bad in (
        {"session_id": "p1", "position_seconds": -1, "playing": True},
        {"session_id": "p1", "position_seconds": 1, "playing": "yes"},
        {"session_id": "p 1", "position_seconds": 1, "playing": True},
        {"session_id": "p1", "position_seconds": 1},
        {"session_id": "p1", "position_seconds": 1, "playing": True, "extra": 1},
    ):
        assert_problem(requests.post(hb, json=bad, headers=student.headers, timeout=10), 422)
    eventually(
        lambda: admin.run("SELECT beats FROM watch_sessions WHERE user_id = :u", u=student.id),
        [[1]],
    )
    progress_url = f"{s['c']}/courses/{s['course']}/progress"
    p = requests.get(progress_url, headers=student.headers, timeout=10).json()
    assert (p["completed_lessons"], p["total_lessons"], p["percent"]) == (0, 2, 0)
    done = f"{s['c']}/lessons/{s['text']}/complete"
    r = requests.post(done, headers=student.headers, timeout=10)
    assert r.status_code == 200 and r.json()["completed"] is True
    assert r.json()["course_completed"] is False
    assert_problem(
        requests.post(
            f"{s['c']}/lessons/{s['video']}/complete", headers=student.headers, timeout=10
        ),
        409,
    )
    p = requests.get(progress_url, headers=student.headers, timeout=10).json()
    assert (p["completed_lessons"], p["percent"]) == (1, 50)
    outsider = signup(gateway_url)
    assert_problem(requests.get(progress_url, headers=outsider.headers, timeout=10), 404)
    assert_problem(
        requests.post(
            hb,
            json={"session_id": "x", "position_seconds": 0, "playing": True},
            headers=outsider.headers,
            timeout=10,
        ),
        404,
    )


def test_resource_download_is_signed_and_logged(gateway_url, school, admin):
    from shared.adapters import gcs

    s = school
    rid = uuid7()
    obj = f"channels/{s['ch']['id']}/resources/{rid}.pdf"
    gcs.write("media", obj, b"%PDF-1.4 notes", content_type="application/pdf")
    admin.run(
        "INSERT INTO resources (id, channel_id, course_id, title, object_name,"
        " content_type, size_bytes) VALUES (:i, :c, :co, 'Notes', :o,"
        " 'application/pdf', 14)",
        i=rid,
        c=s["ch"]["id"],
        co=s["course"],
        o=obj,
    )
    url = f"{s['c']}/resources/{rid}/download"
    student = signup(gateway_url)
    assert_problem(requests.get(url, headers=student.headers, timeout=10), 404)
    enroll(s, student)
    for _ in range(2):
        r = requests.get(url, headers=student.headers, timeout=10)
        assert r.status_code == 200, r.text
        assert requests.get(r.json()["url"], timeout=10).content == b"%PDF-1.4 notes"
    logged = admin.run(
        "SELECT count(*) FROM analytics_events WHERE user_id = :u"
        " AND event_type = 'resource.downloaded'"
        " AND metadata->>'resource_id' = :r",
        u=student.id,
        r=rid,
    )
    assert logged == [[2]]
    assert_problem(
        requests.get(f"{s['c']}/resources/{uuid7()}/download", headers=student.headers, timeout=10),
        404,
    )


# -- archived courses: off the catalogue, closed to newcomers, kept by enrolled students --
def test_archived_course_keeps_its_students_and_turns_everyone_else_away(
    gateway_url, school, admin
):
    s = school
    course_url = f"{s['c']}/courses/{s['course']}"
    student, latecomer = signup(gateway_url), signup(gateway_url)
    assert enroll(s, student).status_code == 201
    instructor = member_of(gateway_url, s["ch"]["id"], s["owner"], "instructor")
    # a student of the channel may not archive
    assert_problem(requests.post(f"{course_url}/archive", headers=student.headers, timeout=10), 403)

    r = requests.post(f"{course_url}/archive", headers=instructor.headers, timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "archived", r.text
    again = requests.post(f"{course_url}/archive", headers=instructor.headers, timeout=10)
    assert again.status_code == 200
    events = admin.run(
        "SELECT count(*) FROM outbox WHERE event_type = 'course.archived'"
        " AND payload->>'course_id' = :c",
        c=s["course"],
    )
    audited = admin.run(
        "SELECT count(*) FROM audit_log WHERE action = 'course.archived' AND target_id = :c",
        c=s["course"],
    )
    assert events == [[1]] and audited == [[1]]  # archiving twice changed nothing

    # the enrolled student keeps the course, its lessons, playback and heartbeats
    assert requests.get(course_url, headers=student.headers, timeout=10).status_code == 200
    play = f"{s['c']}/lessons/{s['video']}/playback"
    assert requests.get(play, headers=student.headers, timeout=10).status_code == 200
    hb = f"{s['c']}/lessons/{s['video']}/heartbeats"
    beat = {"session_id": "a1", "position_seconds": 0, "playing": True}
    assert requests.post(hb, json=beat, headers=student.headers, timeout=10).status_code == 204
    progress = f"{course_url}/progress"
    assert requests.get(progress, headers=student.headers, timeout=10).status_code == 200
    eventually(
        lambda: admin.run(
            "SELECT count(*) FROM watch_sessions WHERE user_id = :u AND session_id = 'a1'",
            u=student.id,
        ),
        [[1]],
    )

    # everyone else: not in the catalogue, not on the public page, no way in
    listed = requests.get(f"{s['c']}/courses", headers=latecomer.headers, timeout=10).json()
    assert s["course"] not in [c["id"] for c in listed["items"]]
    assert_problem(requests.get(course_url, headers=latecomer.headers, timeout=10), 404)
    assert_problem(requests.get(course_url, timeout=10), 404)
    page = requests.get(f"{gateway_url}/ch/{s['ch']['slug']}/courses/{s['course']}", timeout=10)
    assert page.status_code == 404
    landing = requests.get(f"{gateway_url}/ch/{s['ch']['slug']}", timeout=10)
    assert s["course"] not in landing.text
    assert enroll(s, latecomer).status_code in (404, 409)
    assert_problem(requests.get(play, headers=latecomer.headers, timeout=10), 404)
    assert admin.run("SELECT count(*) FROM enrollments WHERE user_id = :u", u=latecomer.id) == [[0]]

    # staff still see it, but it is read-only
    assert requests.get(course_url, headers=instructor.headers, timeout=10).status_code == 200
    staff_list = requests.get(
        f"{s['c']}/courses", params={"status": "archived"}, headers=instructor.headers, timeout=10
    ).json()
    assert [c["id"] for c in staff_list["items"]] == [s["course"]]
    edit = requests.patch(
        course_url, json={"title": "New title"}, headers=instructor.headers, timeout=10
    )
    assert_problem(edit, 409)

    # publishing reopens it
    r = requests.post(f"{course_url}/publish", headers=instructor.headers, timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "published", r.text
    assert requests.get(course_url, headers=latecomer.headers, timeout=10).status_code == 200
    assert enroll(s, latecomer).status_code == 201


def test_a_student_whose_enrollment_ended_loses_an_archived_course(gateway_url, school, admin):
    s = school
    student = signup(gateway_url)
    assert enroll(s, student).status_code == 201
    r = requests.post(
        f"{s['c']}/courses/{s['course']}/archive", headers=s["owner"].headers, timeout=10
    )
    assert r.status_code == 200
    admin.run("UPDATE enrollments SET status = 'ended' WHERE user_id = :u", u=student.id)
    course_url = f"{s['c']}/courses/{s['course']}"
    assert_problem(requests.get(course_url, headers=student.headers, timeout=10), 404)
    play = f"{s['c']}/lessons/{s['video']}/playback"
    assert_problem(requests.get(play, headers=student.headers, timeout=10), 404)
