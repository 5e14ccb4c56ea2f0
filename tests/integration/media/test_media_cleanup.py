"""media_cleanup against real Postgres and fake-gcs-server: what it refuses to delete (other
channels, paths outside the prefix, objects still referenced), duplicate and malformed
deliveries, and a storage failure that must be retried.

The use case runs in-process on a scratch bucket, so every delivery happens exactly when and as
often as the test says; the framework and gateway tests drive the real push decoding.
"""

import base64
import contextlib
import json
import uuid
from pathlib import Path

import pytest
import requests
from functions_framework import create_app
from google.api_core import exceptions as gexc

from shared.adapters import gcs_objects
from shared.catalog import service as courses
from shared.catalog.schemas import ResourceIn
from shared.media import cleanup as media_cleanup
from shared.media import service as media
from shared.media.rules import Outcome
from shared.media.schemas import UploadIn
from shared.platform import outbox
from shared.platform.config import settings
from shared.web import envelopes
from tests.factories import video_lesson_in_new_channel

pytestmark = pytest.mark.usefixtures("stack")
ROOT = Path(__file__).resolve().parents[3]
SCRATCH = "scratch-cleanup"  # bucket key: <prefix>-scratch-cleanup has no notification


@pytest.fixture(scope="module", autouse=True)
def scratch_bucket():
    with contextlib.suppress(gexc.Conflict):
        gcs_objects.client().create_bucket(settings().bucket(SCRATCH))


@pytest.fixture(autouse=True)
def on_scratch(monkeypatch):
    monkeypatch.setattr(media_cleanup, "BUCKET", SCRATCH)


def new_channel() -> dict[str, str]:
    """A new channel with a draft course holding one video lesson (tests.factories)."""
    made = video_lesson_in_new_channel()
    return {"cid": made["channel_id"], **made}


@pytest.fixture(scope="module")
def ch():
    return new_channel()


def obj(cid: str, kind: str = "uploads") -> str:
    leaf = "v.mp4" if kind == "uploads" else "f.jpg"
    return f"channels/{cid}/{kind}/{uuid.uuid4()}/{leaf}"


def store(name: str) -> str:
    gcs_objects._blob(SCRATCH, name).upload_from_string(b"bytes", content_type="video/mp4")
    return name


def exists(name: str) -> bool:
    return gcs_objects.describe(SCRATCH, name) is not None


def push_body(cid: str, objects: list, *, event_id: str | None = None, **attrs) -> dict:
    data, attributes = outbox.envelope(
        {
            "id": event_id or str(uuid.uuid4()),
            "event_type": "media.released",
            "channel_id": cid,
            "payload": {"objects": objects, "reason": "test"},
            "occurred_at": None,
        }
    )
    return {
        "subscription": "projects/p/subscriptions/media-cleanup",
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": {**attributes, **attrs},
            "messageId": uuid.uuid4().hex,  # a new message each time, as a republish is
            "publishTime": "2026-11-25T00:00:00Z",
        },
    }


def deliver(body: dict) -> str:
    """The use case as the function calls it: the push decoded by the one envelope decoder."""
    return on_push({"message": body["message"]})


def on_push(data) -> str:
    message = envelopes.pubsub_message(data)
    return media_cleanup.on_media_released(envelope=message.data, attributes=message.attributes)


def test_an_unused_object_is_deleted_and_a_duplicate_delivery_changes_nothing(ch, admin_db):
    name = store(obj(ch["cid"]))
    thumb = store(obj(ch["cid"], "thumbnails"))
    event_id = str(uuid.uuid4())
    body = push_body(ch["cid"], [name, thumb, name], event_id=event_id)
    assert deliver(body) == "deleted 2, still referenced 0, refused 0"
    assert not exists(name) and not exists(thumb)

    # The same outbox event again (a redelivery, or the sweeper republishing it): even if an
    # object of that name existed again, it is not touched.
    store(name)
    assert deliver(push_body(ch["cid"], [name], event_id=event_id)) == (
        "ignored: duplicate delivery"
    )
    assert exists(name)
    conn = admin_db(role="superuser")
    rows = conn.run(
        "SELECT count(*) FROM processed_events WHERE consumer = 'media_cleanup' AND event_id = :e",
        e=event_id,
    )
    assert rows[0][0] == 1


def test_objects_of_another_channel_or_outside_the_prefix_are_never_deleted(ch):
    other = new_channel()
    theirs = store(obj(other["cid"]))
    climbing = store(f"channels/{ch['cid']}/uploads/../../{other['cid']}/uploads/x/v.mp4")
    elsewhere = store(f"channels/{ch['cid']}/exports/{uuid.uuid4()}.csv")
    mine = store(obj(ch["cid"]))

    result = deliver(push_body(ch["cid"], [theirs, climbing, elsewhere, mine]))
    assert result == "deleted 1, still referenced 0, refused 3"
    assert exists(theirs) and exists(climbing) and exists(elsewhere)
    assert not exists(mine)

    # The channel named in the attributes must be the body's: no mix-and-match.
    forged = store(obj(other["cid"]))
    body = push_body(other["cid"], [forged], channel_id=ch["cid"])
    assert deliver(body).startswith("ignored: malformed event")
    assert exists(forged)


def test_objects_still_referenced_are_kept(admin_db):
    c = new_channel()
    cid, owner = c["cid"], c["owner"]
    conn = admin_db(role="superuser")
    video, lesson_thumb, cover = obj(cid), obj(cid, "thumbnails"), obj(cid)
    conn.run(
        "UPDATE lessons SET video_object = :v, thumbnail_object = :t WHERE id = :l",
        v=video,
        t=lesson_thumb,
        l=c["lesson_id"],
    )
    conn.run("UPDATE courses SET thumbnail_object = :o WHERE id = :c", o=cover, c=c["course_id"])

    def ask(purpose: str, **fields) -> tuple[str, str]:
        ticket = media.create_upload(
            channel_id=cid,
            user_id=owner,
            data=UploadIn(purpose=purpose, size_bytes=9, **fields),
        )
        (name,) = conn.run("SELECT object_name FROM uploads WHERE id = :u", u=ticket["upload_id"])[
            0
        ]
        return ticket["upload_id"], name

    # an upload still on its way, which may yet attach to the lesson
    _, pending = ask(
        "lesson_video", lesson_id=c["lesson_id"], filename="p.mp4", content_type="video/mp4"
    )
    # a ready resource file not (yet) made a resource: it may still be attached
    pdf = {"course_id": c["course_id"], "content_type": "application/pdf"}
    spare_id, spare = ask("resource", filename="s.pdf", **pdf)
    # a ready resource file that is a resource
    used_id, used = ask("resource", filename="u.pdf", **pdf)
    conn.run("UPDATE uploads SET status = 'ready' WHERE id IN (:a, :b)", a=spare_id, b=used_id)
    courses.create_resource(
        channel_id=cid,
        user_id=owner,
        course_id=c["course_id"],
        data=ResourceIn(title="R", upload_id=used_id),
    )
    referenced = [video, lesson_thumb, cover, pending, spare, used]
    for name in referenced:
        store(name)
    unused = store(obj(cid))

    result = deliver(push_body(cid, [*referenced, unused]))
    assert result == "deleted 1, still referenced 6, refused 0"
    assert all(exists(n) for n in referenced)
    assert not exists(unused)


def test_a_storage_failure_answers_500_and_the_redelivery_deletes(ch, monkeypatch):
    app = create_app(
        "on_media_released", str(ROOT / "functions" / "media_cleanup" / "main.py"), "cloudevent"
    ).test_client()
    name = store(obj(ch["cid"]))
    body = push_body(ch["cid"], [name])

    def unavailable(*args, **kwargs):
        raise gexc.ServiceUnavailable("storage is down")

    with monkeypatch.context() as m:
        m.setattr(gcs_objects, "delete", unavailable)
        assert app.post("/", json=body).status_code == 500
    assert exists(name)
    assert app.post("/", json=body).status_code == 200  # the mark rolled back with the failure
    assert not exists(name)


def test_a_missing_object_counts_as_deleted(ch):
    gone = obj(ch["cid"])  # never stored
    assert deliver(push_body(ch["cid"], [gone])) == "deleted 1, still referenced 0, refused 0"


def test_malformed_pushes_are_acked_through_the_gateway(gateway_url, ch):
    url = f"{gateway_url}/_events/media_cleanup"
    good = push_body(ch["cid"], [obj(ch["cid"])])

    def variant(data: bytes | str | None = None, **attrs) -> dict:
        body = json.loads(json.dumps(good))
        if data is not None:
            raw = data if isinstance(data, bytes) else data.encode()
            body["message"]["data"] = base64.b64encode(raw).decode()
        body["message"]["attributes"].update(attrs)
        return body

    envelope = json.loads(base64.b64decode(good["message"]["data"]))
    bad = [
        variant(b"\xff\xfe not json"),
        variant("[1, 2, 3]"),
        variant(json.dumps({**envelope, "data": {"objects": "no list"}})),
        variant(json.dumps({**envelope, "data": {"objects": [{"a": 1}]}})),
        variant(json.dumps({**envelope, "channel_id": "not-a-uuid"})),
        variant(json.dumps({**envelope, "id": None})),
    ]
    not_b64 = json.loads(json.dumps(good))
    not_b64["message"]["data"] = "!!!not base64!!!"
    bad.append(not_b64)
    for body in bad:
        r = requests.post(url, json=body, timeout=10)
        assert r.status_code in (200, 204), (body, r.status_code, r.text)
        assert "X-Gateway-Filtered" not in r.headers  # it reached the function
    # Other domain events never reach the function (the subscription's filter).
    other = variant(event_type="lesson.deleted")
    r = requests.post(url, json=other, timeout=10)
    assert r.status_code == 204 and r.headers.get("X-Gateway-Filtered") == "media-cleanup"


@pytest.mark.parametrize(
    "message",
    [
        {"data": "!!!"},
        {"data": base64.b64encode(b"{}").decode()},
        {"data": base64.b64encode(b'"text"').decode()},
        {},
        "not a message",
    ],
)
def test_malformed_events_are_dropped_with_a_reason(message):
    result = on_push({"message": message})
    assert result.startswith("ignored: malformed") and result.outcome is Outcome.MALFORMED_BECAUSE
    assert on_push(None).startswith("ignored: malformed")
