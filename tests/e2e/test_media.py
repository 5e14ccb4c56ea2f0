"""Uploads over HTTP: signed URL -> PUT straight to (local) storage -> finalize event through
Pub/Sub -> media_finalized marks the upload ready or rejected. Nothing here polls storage or
calls the function directly: the test only watches the upload's public state."""

import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.factories import course_with_video_lesson
from tests.helpers import assert_problem, eventually, make_channel, member_of, signup
from tests.helpers import channel_url as api

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MP4 = (FIXTURES / "tiny_faststart.mp4").read_bytes()
MP4_MOOV_AT_END = (FIXTURES / "tiny_moov_at_end.mp4").read_bytes()
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture(scope="module")
def world(gateway_url):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    instructor = member_of(gateway_url, ch["id"], owner, "instructor")
    student = member_of(gateway_url, ch["id"], owner, "student")
    stranger = signup(gateway_url)
    other = make_channel(gateway_url, stranger)
    return {
        "ch": ch,
        "owner": owner,
        "instructor": instructor,
        "student": student,
        "stranger": stranger,
        "other": other,
    }


def ask_upload(gw, cid, user, **fields):
    return requests.post(api(gw, cid, "/uploads"), json=fields, headers=user.headers, timeout=10)


def put_bytes(ticket, data):
    assert ticket["method"] == "PUT"
    return requests.put(ticket["url"], data=data, headers=ticket["headers"], timeout=30)


def wait_finalized(gw, cid, user, upload_id, timeout=5.0):
    """The upload's state once it leaves `pending`."""

    def state():
        r = requests.get(api(gw, cid, f"/uploads/{upload_id}"), headers=user.headers, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    return eventually(state, until=lambda s: s["status"] != "pending", timeout=timeout)


@pytest.mark.parametrize("data", [MP4, MP4_MOOV_AT_END], ids=["faststart", "moov-at-end"])
def test_a_real_mp4_upload_makes_the_lesson_ready_within_5_seconds(gateway_url, world, data):
    cid, instructor = world["ch"]["id"], world["instructor"]
    course, lesson = course_with_video_lesson(gateway_url, cid, instructor)
    r = ask_upload(
        gateway_url,
        cid,
        instructor,
        purpose="lesson_video",
        lesson_id=lesson["id"],
        filename="../../etc/Intro video.mp4",
        content_type="video/mp4",
        size_bytes=len(data),
    )
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert ticket["status"] == "pending"

    put = put_bytes(ticket, data)
    assert put.status_code == 200, put.text
    started = time.monotonic()
    state = wait_finalized(gateway_url, cid, instructor, ticket["upload_id"])
    assert state["status"] == "ready", state
    assert time.monotonic() - started < 5.0
    assert state["duration_seconds"] == 3.0 and state["reason"] is None

    got = requests.get(
        api(gateway_url, cid, f"/courses/{course['id']}"), headers=instructor.headers, timeout=10
    ).json()
    assert got["lessons"][0]["status"] == "ready"
    assert got["lessons"][0]["duration_seconds"] == 3.0 and got["lessons"][0]["has_video"]
    r = requests.post(
        api(gateway_url, cid, f"/courses/{course['id']}/publish"),
        headers=instructor.headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text


def test_the_signed_url_pins_type_size_expiry_and_the_channel_prefix(gateway_url, world):
    cid, instructor = world["ch"]["id"], world["instructor"]
    _, lesson = course_with_video_lesson(gateway_url, cid, instructor)
    ticket = ask_upload(
        gateway_url,
        cid,
        instructor,
        purpose="lesson_video",
        lesson_id=lesson["id"],
        filename="a/b\\c<script>.mp4",
        content_type="video/mp4",
        size_bytes=1234,
    ).json()
    url = urlparse(ticket["url"])
    q = parse_qs(url.query)
    assert q["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"]
    assert int(q["X-Goog-Expires"][0]) <= 15 * 60
    signed = q["X-Goog-SignedHeaders"][0].split(";")
    assert {"content-type", "x-goog-content-length-range", "x-goog-if-generation-match"} <= set(
        signed
    )
    assert ticket["headers"]["Content-Type"] == "video/mp4"
    assert ticket["headers"]["x-goog-content-length-range"] == "1234,1234"
    bucket, _, name = url.path.lstrip("/").partition("/")
    assert name == f"channels/{cid}/uploads/{ticket['upload_id']}/c_script_.mp4"
    assert bucket.endswith("-media")


def test_a_non_mp4_upload_is_rejected_and_deleted(gateway_url, world):
    from shared.adapters import gcs

    cid, instructor = world["ch"]["id"], world["instructor"]
    course, lesson = course_with_video_lesson(gateway_url, cid, instructor)
    data = b"This is a text file pretending to be a video. " * 40
    ticket = ask_upload(
        gateway_url,
        cid,
        instructor,
        purpose="lesson_video",
        lesson_id=lesson["id"],
        filename="fake.mp4",
        content_type="video/mp4",
        size_bytes=len(data),
    ).json()
    assert put_bytes(ticket, data).status_code == 200
    state = wait_finalized(gateway_url, cid, instructor, ticket["upload_id"])
    assert state["status"] == "rejected", state
    assert "not a playable MP4" in state["reason"]
    name = urlparse(ticket["url"]).path.split("/", 2)[2]
    eventually(lambda: gcs.stat("media", name), None, timeout=3)
    got = requests.get(
        api(gateway_url, cid, f"/courses/{course['id']}"), headers=instructor.headers, timeout=10
    ).json()
    assert got["lessons"][0]["status"] == "pending_media" and not got["lessons"][0]["has_video"]


def test_an_upload_of_the_wrong_size_is_refused(gateway_url, world):
    """In the cloud storage itself refuses the PUT (the signed x-goog-content-length-range);
    locally fake-gcs-server accepts it, and media_finalized rejects and deletes the object."""
    cid, instructor = world["ch"]["id"], world["instructor"]
    _, lesson = course_with_video_lesson(gateway_url, cid, instructor)
    ticket = ask_upload(
        gateway_url,
        cid,
        instructor,
        purpose="lesson_video",
        lesson_id=lesson["id"],
        filename="v.mp4",
        content_type="video/mp4",
        size_bytes=len(MP4) - 100,
    ).json()
    put = put_bytes(ticket, MP4)  # 100 bytes more than declared and signed
    if put.status_code >= 400:
        return  # refused by storage itself (real GCS)
    state = wait_finalized(gateway_url, cid, instructor, ticket["upload_id"])
    assert state["status"] == "rejected", state
    assert "size" in state["reason"]
    lesson_now = requests.get(
        api(gateway_url, cid, f"/courses/{lesson['course_id']}"),
        headers=instructor.headers,
        timeout=10,
    ).json()["lessons"][0]
    assert lesson_now["status"] == "pending_media"


def test_the_wrong_content_type_is_rejected(gateway_url, world):
    cid, instructor = world["ch"]["id"], world["instructor"]
    _, lesson = course_with_video_lesson(gateway_url, cid, instructor)
    ticket = ask_upload(
        gateway_url,
        cid,
        instructor,
        purpose="lesson_video",
        lesson_id=lesson["id"],
        filename="v.mp4",
        content_type="video/mp4",
        size_bytes=len(MP4),
    ).json()
    headers = {**ticket["headers"], "Content-Type": "application/octet-stream"}
    requests.put(ticket["url"], data=MP4, headers=headers, timeout=30)
    state = wait_finalized(gateway_url, cid, instructor, ticket["upload_id"])
    assert state["status"] == "rejected" and "content type" in state["reason"]


def test_upload_requests_are_checked_per_purpose_and_role(gateway_url, world):
    cid, instructor = world["ch"]["id"], world["instructor"]
    course, lesson = course_with_video_lesson(gateway_url, cid, instructor)
    text = requests.post(
        api(gateway_url, cid, f"/courses/{course['id']}/lessons"),
        json={"title": "Read", "kind": "text"},
        headers=instructor.headers,
        timeout=10,
    ).json()
    good = {
        "purpose": "lesson_video",
        "lesson_id": lesson["id"],
        "filename": "v.mp4",
        "content_type": "video/mp4",
        "size_bytes": 1000,
    }
    cases = [
        ({**good, "content_type": "video/quicktime"}, 422, "content_type"),
        ({**good, "size_bytes": 6 * 1024**3}, 422, "size_bytes"),
        ({**good, "size_bytes": 0}, 422, "size_bytes"),
        ({k: v for k, v in good.items() if k != "lesson_id"}, 422, "lesson_id"),
        ({**good, "purpose": "thumbnail", "content_type": "image/gif"}, 422, "content_type"),
        (
            {
                **good,
                "purpose": "thumbnail",
                "content_type": "image/png",
                "size_bytes": 6 * 1024**2,
            },
            422,
            "size_bytes",
        ),
        (
            {
                **good,
                "purpose": "resource",
                "content_type": "application/x-msdownload",
                "lesson_id": None,
                "course_id": course["id"],
            },
            422,
            "content_type",
        ),
        ({**good, "lesson_id": "nope"}, 422, "lesson_id"),
        ({**good, "object_name": "channels/other/x"}, 422, "object_name"),
        ({**good, "lesson_id": text["id"]}, 409, None),
        ({**good, "lesson_id": str(uuid.uuid4())}, 404, None),
    ]
    for body, status, field in cases:
        problem = assert_problem(ask_upload(gateway_url, cid, instructor, **body), status)
        if field:
            assert any(field in e["loc"] for e in problem["errors"]), problem
    assert_problem(ask_upload(gateway_url, cid, world["student"], **good), 403)
    assert_problem(ask_upload(gateway_url, cid, world["stranger"], **good), 404)
    # a lesson of another channel is not found from ours
    _, their_lesson = course_with_video_lesson(gateway_url, world["other"]["id"], world["stranger"])
    assert_problem(
        ask_upload(gateway_url, cid, instructor, **{**good, "lesson_id": their_lesson["id"]}), 404
    )


def test_uploads_are_invisible_to_other_channels_and_students(gateway_url, world):
    cid, instructor = world["ch"]["id"], world["instructor"]
    _, lesson = course_with_video_lesson(gateway_url, cid, instructor)
    ticket = ask_upload(
        gateway_url,
        cid,
        instructor,
        purpose="lesson_video",
        lesson_id=lesson["id"],
        filename="v.mp4",
        content_type="video/mp4",
        size_bytes=10,
    ).json()
    url = api(gateway_url, cid, f"/uploads/{ticket['upload_id']}")
    assert_problem(requests.get(url, headers=world["stranger"].headers, timeout=10), 404)
    assert_problem(requests.get(url, headers=world["student"].headers, timeout=10), 403)
    assert_problem(requests.get(url, timeout=10), 401)
    # the upload id under the other channel's prefix is not found either
    assert_problem(
        requests.get(
            api(gateway_url, world["other"]["id"], f"/uploads/{ticket['upload_id']}"),
            headers=world["stranger"].headers,
            timeout=10,
        ),
        404,
    )
    for bad in ("not-a-uuid", str(uuid.uuid4())):
        assert_problem(
            requests.get(
                api(gateway_url, cid, f"/uploads/{bad}"), headers=instructor.headers, timeout=10
            ),
            404,
        )


def test_a_resource_upload_becomes_a_downloadable_resource(gateway_url, world):
    cid, instructor = world["ch"]["id"], world["instructor"]
    course, _ = course_with_video_lesson(gateway_url, cid, instructor)
    pdf = b"%PDF-1.4\n" + b"0" * 500 + b"\n%%EOF\n"
    ticket = ask_upload(
        gateway_url,
        cid,
        instructor,
        purpose="resource",
        course_id=course["id"],
        filename="Workbook.pdf",
        content_type="application/pdf",
        size_bytes=len(pdf),
    ).json()
    # attach before the bytes arrive: it becomes ready with the upload
    r = requests.post(
        api(gateway_url, cid, f"/courses/{course['id']}/resources"),
        json={"title": "Workbook", "upload_id": ticket["upload_id"]},
        headers=instructor.headers,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    assert r.json()["ready"] is False
    assert put_bytes(ticket, pdf).status_code == 200
    assert wait_finalized(gateway_url, cid, instructor, ticket["upload_id"])["status"] == "ready"
    items = requests.get(
        api(gateway_url, cid, f"/courses/{course['id']}/resources"),
        headers=instructor.headers,
        timeout=10,
    ).json()["items"]
    assert [(i["title"], i["ready"], i["size_bytes"]) for i in items] == [
        ("Workbook", True, len(pdf))
    ]
    again = requests.post(
        api(gateway_url, cid, f"/courses/{course['id']}/resources"),
        json={"title": "Twice", "upload_id": ticket["upload_id"]},
        headers=instructor.headers,
        timeout=10,
    )
    assert_problem(again, 409)
    rid = items[0]["id"]
    assert (
        requests.delete(
            api(gateway_url, cid, f"/resources/{rid}"), headers=instructor.headers, timeout=10
        ).status_code
        == 204
    )


def test_a_resource_whose_bytes_are_not_what_it_claims_is_rejected(gateway_url, world):
    cid, instructor = world["ch"]["id"], world["instructor"]
    course, _ = course_with_video_lesson(gateway_url, cid, instructor)
    fake = b"MZ\x90\x00 definitely not a pdf" * 10
    ticket = ask_upload(
        gateway_url,
        cid,
        instructor,
        purpose="resource",
        course_id=course["id"],
        filename="x.pdf",
        content_type="application/pdf",
        size_bytes=len(fake),
    ).json()
    put_bytes(ticket, fake)
    state = wait_finalized(gateway_url, cid, instructor, ticket["upload_id"])
    assert state["status"] == "rejected" and "application/pdf" in state["reason"]


def test_a_thumbnail_upload_sets_the_lesson_thumbnail(gateway_url, world, admin_db):
    cid, instructor = world["ch"]["id"], world["instructor"]
    _, lesson = course_with_video_lesson(gateway_url, cid, instructor)
    ticket = ask_upload(
        gateway_url,
        cid,
        instructor,
        purpose="thumbnail",
        lesson_id=lesson["id"],
        filename="cover.png",
        content_type="image/png",
        size_bytes=len(PNG),
    ).json()
    put_bytes(ticket, PNG)
    assert wait_finalized(gateway_url, cid, instructor, ticket["upload_id"])["status"] == "ready"
    conn = admin_db(role="superuser")
    (thumb,) = conn.run("SELECT thumbnail_object FROM lessons WHERE id = :l", l=lesson["id"])[0]
    assert thumb.startswith(f"channels/{cid}/uploads/{ticket['upload_id']}/")


def test_a_ready_video_gets_a_thumbnail_through_the_task_queue_once(gateway_url, world, admin_db):
    from shared.adapters import gcs

    cid, instructor = world["ch"]["id"], world["instructor"]
    _, lesson = course_with_video_lesson(gateway_url, cid, instructor)
    ticket = ask_upload(
        gateway_url,
        cid,
        instructor,
        purpose="lesson_video",
        lesson_id=lesson["id"],
        filename="v.mp4",
        content_type="video/mp4",
        size_bytes=len(MP4),
    ).json()
    put_bytes(ticket, MP4)
    assert wait_finalized(gateway_url, cid, instructor, ticket["upload_id"])["status"] == "ready"

    # media_finalized queued a task on media-thumbnails; the Tasks emulator delivers it.
    conn = admin_db(role="superuser")
    sql = "SELECT thumbnail_object FROM lessons WHERE id = :l"
    thumb = eventually(lambda: conn.run(sql, l=lesson["id"])[0][0], timeout=30, interval=0.3)
    assert thumb == f"channels/{cid}/thumbnails/{lesson['id']}/{ticket['upload_id']}.jpg"
    assert gcs.read_range("media", thumb, 0, 2) == b"\xff\xd8\xff"  # a JPEG

    task = {"channel_id": cid, "upload_id": ticket["upload_id"]}
    again = requests.post(f"{gateway_url}/_tasks/media_thumbnail", json=task, timeout=60)
    assert again.status_code == 200 and again.json()["result"].startswith("ignored")
    for junk in ({}, {"channel_id": "x", "upload_id": 1}, [1, 2]):
        r = requests.post(f"{gateway_url}/_tasks/media_thumbnail", json=junk, timeout=10)
        assert r.status_code == 200 and r.json()["result"].startswith("ignored")
    # the video object vanished before the task ran: done (200), not retried by Cloud Tasks
    conn.run("UPDATE lessons SET thumbnail_object = NULL WHERE id = :l", l=lesson["id"])
    video = conn.run("SELECT video_object FROM lessons WHERE id = :l", l=lesson["id"])[0][0]
    gcs.delete("media", video)
    gone = requests.post(f"{gateway_url}/_tasks/media_thumbnail", json=task, timeout=60)
    assert gone.status_code == 200 and gone.json()["result"] == "ignored: the video object is gone"
