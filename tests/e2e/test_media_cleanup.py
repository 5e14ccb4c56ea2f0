"""Unused media leaves the bucket: the whole path over the local stack. A write releases
objects (outbox `media.released`) -> Pub/Sub emulator -> push through the gateway's
subscription filter -> media_cleanup deletes them from fake-gcs-server. The tests drive the
HTTP API and upload real bytes, then poll the bucket."""

from pathlib import Path

import pytest
import requests

from tests.factories import course_with_video_lesson
from tests.helpers import assert_problem, eventually, make_channel, member_of, signup
from tests.helpers import channel_url as api

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MP4 = (FIXTURES / "tiny_faststart.mp4").read_bytes()
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def world(gateway_url):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    return {"cid": ch["id"], "instructor": member_of(gateway_url, ch["id"], owner, "instructor")}


@pytest.fixture
def lesson(gateway_url, world):
    course, les = course_with_video_lesson(gateway_url, world["cid"], world["instructor"])
    return {"course_id": course["id"], "lesson_id": les["id"]}


@pytest.fixture
def db(admin_db):
    conn = admin_db(role="superuser")

    def one(sql, **params):
        rows = conn.run(sql, **params)
        return rows[0][0] if rows else None

    return one


def exists(name: str) -> bool:
    from shared.adapters import gcs

    return gcs.describe("media", name) is not None


def released(db, cid: str, name: str) -> int:
    """How many `media.released` events of the channel name the object."""
    return db(
        "SELECT count(*) FROM outbox WHERE channel_id = :c AND event_type = 'media.released'"
        " AND position(:n IN payload::text) > 0",
        c=cid,
        n=name,
    )


def upload(gw, world, lesson, *, data, purpose, content_type, filename, with_lesson=True):
    """Ask for an upload of `data` and PUT it; returns (upload_id, object name)."""
    cid, user = world["cid"], world["instructor"]
    body = {
        "purpose": purpose,
        "filename": filename,
        "content_type": content_type,
        "size_bytes": len(data),
        **({"lesson_id": lesson["lesson_id"]} if with_lesson else {}),
        **({} if with_lesson else {"course_id": lesson["course_id"]}),
    }
    r = requests.post(api(gw, cid, "/uploads"), json=body, headers=user.headers, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def put(ticket, data):
    r = requests.put(ticket["url"], data=data, headers=ticket["headers"], timeout=30)
    assert r.status_code == 200, r.text


def wait_ready(gw, world, upload_id):
    cid, user = world["cid"], world["instructor"]

    def status():
        r = requests.get(api(gw, cid, f"/uploads/{upload_id}"), headers=user.headers, timeout=10)
        return r.json()["status"]

    eventually(lambda: status() != "pending", timeout=10, what=f"upload {upload_id} to finalize")
    assert status() == "ready"


def video(gw, world, lesson, db, *, with_thumbnail=True):
    """A real MP4 uploaded for the lesson through the normal flow; (video, thumbnail) objects."""
    ticket = upload(
        gw,
        world,
        lesson,
        data=MP4,
        purpose="lesson_video",
        content_type="video/mp4",
        filename="v.mp4",
    )
    put(ticket, MP4)
    wait_ready(gw, world, ticket["upload_id"])
    name = db("SELECT object_name FROM uploads WHERE id = :u", u=ticket["upload_id"])
    assert db("SELECT video_object FROM lessons WHERE id = :l", l=lesson["lesson_id"]) == name
    if not with_thumbnail:
        return ticket["upload_id"], name, None
    thumb = f"channels/{world['cid']}/thumbnails/{lesson['lesson_id']}/{ticket['upload_id']}.jpg"
    # media_finalized queued the thumbnail task; ffmpeg grabs a frame.
    lesson_thumb = "SELECT thumbnail_object FROM lessons WHERE id = :l"
    eventually(
        lambda: db(lesson_thumb, l=lesson["lesson_id"]) == thumb,
        timeout=30,
        what="the generated thumbnail",
    )
    return ticket["upload_id"], name, thumb


def test_deleting_a_lesson_deletes_its_video_thumbnail_and_resources(
    gateway_url, world, lesson, db
):
    _, video_obj, thumb = video(gateway_url, world, lesson, db)
    ticket = upload(
        gateway_url,
        world,
        lesson,
        data=PDF,
        purpose="resource",
        content_type="application/pdf",
        filename="notes.pdf",
    )
    put(ticket, PDF)
    wait_ready(gateway_url, world, ticket["upload_id"])
    cid, user = world["cid"], world["instructor"]
    r = requests.post(
        api(gateway_url, cid, f"/courses/{lesson['course_id']}/resources"),
        json={"title": "Notes", "upload_id": ticket["upload_id"], "lesson_id": lesson["lesson_id"]},
        headers=user.headers,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    resource_obj = db("SELECT object_name FROM uploads WHERE id = :u", u=ticket["upload_id"])
    assert exists(video_obj) and exists(thumb) and exists(resource_obj)

    r = requests.delete(
        api(gateway_url, cid, f"/courses/{lesson['course_id']}/lessons/{lesson['lesson_id']}"),
        headers=user.headers,
        timeout=10,
    )
    assert r.status_code == 204, r.text
    for name in (video_obj, thumb, resource_obj):
        eventually(lambda n=name: not exists(n), timeout=10, what=f"{name} to be deleted")
    # the resource's upload cannot be attached again to point at the deleted object
    r = requests.post(
        api(gateway_url, cid, f"/courses/{lesson['course_id']}/resources"),
        json={"title": "Again", "upload_id": ticket["upload_id"]},
        headers=user.headers,
        timeout=10,
    )
    assert_problem(r, 409)


def test_replacing_a_video_deletes_the_first_and_its_thumbnail_and_keeps_the_second(
    gateway_url, world, lesson, db
):
    _, first, first_thumb = video(gateway_url, world, lesson, db)
    second_id, second, second_thumb = video(gateway_url, world, lesson, db)  # a new frame too

    eventually(lambda: not exists(first), timeout=10, what="the first video to be deleted")
    eventually(
        lambda: not exists(first_thumb), timeout=10, what="the first thumbnail to be deleted"
    )
    assert exists(second) and exists(second_thumb)
    # and nothing is on its way to delete them: no media.released event names them (an object
    # is released in the transaction that unreferences it, and only a released one is deleted)
    for name in (second, second_thumb):
        assert released(db, world["cid"], name) == 0, name
    assert db("SELECT status FROM uploads WHERE id = :u", u=second_id) == "ready"


def test_an_upload_that_loses_to_a_newer_one_is_deleted(gateway_url, world, lesson, db):
    older = upload(
        gateway_url,
        world,
        lesson,
        data=MP4,
        purpose="lesson_video",
        content_type="video/mp4",
        filename="old.mp4",
    )
    newer = upload(
        gateway_url,
        world,
        lesson,
        data=MP4,
        purpose="lesson_video",
        content_type="video/mp4",
        filename="new.mp4",
    )
    put(newer, MP4)
    wait_ready(gateway_url, world, newer["upload_id"])
    put(older, MP4)  # finalized after the newer one: it must not win, nor stay
    wait_ready(gateway_url, world, older["upload_id"])

    older_obj = db("SELECT object_name FROM uploads WHERE id = :u", u=older["upload_id"])
    newer_obj = db("SELECT object_name FROM uploads WHERE id = :u", u=newer["upload_id"])
    eventually(lambda: not exists(older_obj), timeout=10, what="the losing upload to be deleted")
    assert exists(newer_obj)
    assert db("SELECT video_object FROM lessons WHERE id = :l", l=lesson["lesson_id"]) == newer_obj


def test_a_replaced_course_thumbnail_is_deleted(gateway_url, world, lesson, db):
    names = []
    for i in range(2):
        ticket = upload(
            gateway_url,
            world,
            lesson,
            data=PNG,
            purpose="thumbnail",
            content_type="image/png",
            filename=f"cover{i}.png",
            with_lesson=False,
        )
        put(ticket, PNG)
        wait_ready(gateway_url, world, ticket["upload_id"])
        names.append(db("SELECT object_name FROM uploads WHERE id = :u", u=ticket["upload_id"]))
    cover = db("SELECT thumbnail_object FROM courses WHERE id = :c", c=lesson["course_id"])
    assert cover == names[1]
    eventually(lambda: not exists(names[0]), timeout=10, what="the replaced cover to be deleted")
    assert exists(names[1])


def test_deleting_a_resource_deletes_its_file(gateway_url, world, lesson, db):
    cid, user = world["cid"], world["instructor"]
    ticket = upload(
        gateway_url,
        world,
        lesson,
        data=PDF,
        purpose="resource",
        content_type="application/pdf",
        filename="notes.pdf",
        with_lesson=False,
    )
    put(ticket, PDF)
    wait_ready(gateway_url, world, ticket["upload_id"])
    res = requests.post(
        api(gateway_url, cid, f"/courses/{lesson['course_id']}/resources"),
        json={"title": "Notes", "upload_id": ticket["upload_id"]},
        headers=user.headers,
        timeout=10,
    ).json()
    name = db("SELECT object_name FROM uploads WHERE id = :u", u=ticket["upload_id"])
    assert exists(name)
    r = requests.delete(api(gateway_url, cid, f"/resources/{res['id']}"), headers=user.headers)
    assert r.status_code == 204, r.text
    eventually(lambda: not exists(name), timeout=10, what="the resource file to be deleted")


def test_deleting_a_lesson_withdraws_an_upload_still_on_its_way(gateway_url, world, lesson, db):
    cid, user = world["cid"], world["instructor"]
    ticket = upload(
        gateway_url,
        world,
        lesson,
        data=MP4,
        purpose="lesson_video",
        content_type="video/mp4",
        filename="late.mp4",
    )
    r = requests.delete(
        api(gateway_url, cid, f"/courses/{lesson['course_id']}/lessons/{lesson['lesson_id']}"),
        headers=user.headers,
        timeout=10,
    )
    assert r.status_code == 204, r.text
    put(ticket, MP4)  # the bytes land after the lesson is gone
    name = db("SELECT object_name FROM uploads WHERE id = :u", u=ticket["upload_id"])
    assert db("SELECT status FROM uploads WHERE id = :u", u=ticket["upload_id"]) == "rejected"
    eventually(lambda: not exists(name), timeout=10, what="the late upload to be discarded")
