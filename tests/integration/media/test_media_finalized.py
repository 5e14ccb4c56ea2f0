"""media_finalized against real Postgres and fake-gcs-server: duplicate, concurrent, late and
malformed events, and transient failures.

Most tests run the use case in-process on a scratch bucket that sends no notifications, so
each event is delivered exactly when and as often as the test says; the framework test drives
the real Pub/Sub push decoding through the gateway.
"""

import base64
import contextlib
import json
import threading
import uuid
from pathlib import Path

import pytest
import requests
from functions_framework import create_app
from google.api_core import exceptions as gexc

from shared.adapters import gcs
from shared.media import service as media
from shared.media.schemas import UploadIn
from shared.platform.config import settings
from shared.platform.db import transaction
from shared.web import envelopes
from tests.factories import video_lesson_in_new_channel

pytestmark = pytest.mark.usefixtures("stack")
ROOT = Path(__file__).resolve().parents[3]
MP4 = (ROOT / "tests" / "fixtures" / "tiny_faststart.mp4").read_bytes()
SCRATCH = "scratch-media"  # bucket key: <prefix>-scratch-media has no notification


@pytest.fixture(scope="module", autouse=True)
def scratch_bucket():
    with contextlib.suppress(gexc.Conflict):
        gcs.client().create_bucket(settings().bucket(SCRATCH))


@pytest.fixture
def on_scratch(monkeypatch):
    monkeypatch.setattr(media, "BUCKET", SCRATCH)
    return settings().bucket(SCRATCH)


@pytest.fixture(scope="module")
def lesson():
    """A channel, its owner and a video lesson of a draft course."""
    return video_lesson_in_new_channel()


def new_upload(lesson, size=len(MP4)) -> tuple[str, str]:
    ticket = media.create_upload(
        channel_id=lesson["channel_id"],
        user_id=lesson["owner"],
        data=UploadIn(
            purpose="lesson_video",
            lesson_id=lesson["lesson_id"],
            filename="v.mp4",
            content_type="video/mp4",
            size_bytes=size,
        ),
    )
    with transaction(channel_id=lesson["channel_id"]) as tx:
        name = tx.scalar("SELECT object_name FROM uploads WHERE id = :u", u=ticket["upload_id"])
    return ticket["upload_id"], name


def store(name: str, data: bytes, content_type="video/mp4") -> int:
    gcs._blob(SCRATCH, name).upload_from_string(data, content_type=content_type)
    return gcs.describe(SCRATCH, name)["generation"]


def push_body(bucket, name, generation, message_id, event_type="OBJECT_FINALIZE"):
    obj = {"bucket": bucket, "name": name, "generation": str(generation), "size": "1"}
    return {
        "subscription": "projects/p/subscriptions/media-finalized",
        "message": {
            "data": base64.b64encode(json.dumps(obj).encode()).decode(),
            "attributes": {
                "eventType": event_type,
                "bucketId": bucket,
                "objectId": name,
                "objectGeneration": str(generation),
            },
            "messageId": message_id,
            "publishTime": "2026-11-25T00:00:00Z",
        },
    }


def deliver(bucket, name, generation, message_id):
    """The use case as the function calls it: the CloudEvent data of a Pub/Sub push, decoded
    by the one envelope decoder."""
    body = push_body(bucket, name, generation, message_id)
    message = envelopes.cloud_event_data({"message": body["message"]})
    return media.on_storage_event(
        event_id=message_id,
        event_type="google.cloud.pubsub.topic.v1.messagePublished",
        obj=message.data,
        attributes=message.attributes,
    )


def effects(channel_id, upload_id, lesson_id) -> dict:
    with transaction(channel_id=channel_id) as tx:
        return {
            "upload": tx.one(
                "SELECT status, reason, generation, duration_seconds FROM uploads WHERE id = :u",
                u=upload_id,
            ),
            "lesson": tx.one(
                "SELECT status, video_object, duration_seconds, updated_at"
                " FROM lessons WHERE id = :l",
                l=lesson_id,
            ),
            "audit": tx.scalar(
                "SELECT count(*) FROM audit_log WHERE target_id = :u"
                " AND action IN ('upload.ready', 'upload.rejected')",
                u=upload_id,
            ),
            "events": tx.scalar(
                "SELECT count(*) FROM outbox WHERE payload->>'upload_id' = :u"
                " AND event_type IN ('upload.ready', 'lesson.ready',"
                " 'upload.rejected')",
                u=upload_id,
            ),
        }


def test_duplicate_and_concurrent_deliveries_have_one_effect(lesson, on_scratch):
    upload_id, name = new_upload(lesson)
    gen = store(name, MP4)
    message_ids = [uuid.uuid4().hex, uuid.uuid4().hex]  # the same event twice, and a twin
    results = []
    barrier = threading.Barrier(6)

    def run(mid):
        barrier.wait()
        results.append(deliver(on_scratch, name, gen, mid))

    threads = [threading.Thread(target=run, args=(message_ids[i % 2],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert results.count("ready") == 1, results
    first = effects(lesson["channel_id"], upload_id, lesson["lesson_id"])
    assert first["upload"]["status"] == "ready" and first["upload"]["generation"] == gen
    assert first["lesson"]["status"] == "ready" and first["lesson"]["video_object"] == name
    assert float(first["lesson"]["duration_seconds"]) == 3.0
    assert first["audit"] == 1 and first["events"] == 2  # upload.ready + lesson.ready

    # later redeliveries, same or new message ids, change nothing at all
    for mid in (*message_ids, uuid.uuid4().hex):
        assert deliver(on_scratch, name, gen, mid).startswith("ignored")
    assert effects(lesson["channel_id"], upload_id, lesson["lesson_id"]) == first


def test_a_late_event_for_a_replaced_object_is_ignored(lesson, on_scratch):
    upload_id, name = new_upload(lesson)
    old = store(name, b"x" * len(MP4))  # a first PUT of garbage...
    new = store(name, MP4)  # ...replaced by the real file before its event arrived
    assert old != new

    assert deliver(on_scratch, name, old, uuid.uuid4().hex) == "ignored: object gone or replaced"
    assert (
        effects(lesson["channel_id"], upload_id, lesson["lesson_id"])["upload"]["status"]
        == "pending"
    )
    assert deliver(on_scratch, name, new, uuid.uuid4().hex) == "ready"
    assert gcs.describe(SCRATCH, name)["generation"] == new  # the good object was kept


def test_a_late_event_for_a_deleted_object_is_ignored(lesson, on_scratch):
    upload_id, name = new_upload(lesson)
    gen = store(name, MP4)
    gcs.delete(SCRATCH, name)

    assert deliver(on_scratch, name, gen, uuid.uuid4().hex) == "ignored: object gone or replaced"
    state = effects(lesson["channel_id"], upload_id, lesson["lesson_id"])
    assert state["upload"]["status"] == "pending" and state["audit"] == 0


def test_a_rejected_upload_stays_rejected_and_its_objects_are_removed(lesson, on_scratch):
    upload_id, name = new_upload(lesson)
    gen = store(name, b"not a video".ljust(len(MP4), b"."))
    result = deliver(on_scratch, name, gen, uuid.uuid4().hex)
    assert result.startswith("rejected: not a playable MP4")
    assert gcs.stat(SCRATCH, name) is None
    state = effects(lesson["channel_id"], upload_id, lesson["lesson_id"])
    assert state["upload"]["status"] == "rejected" and state["audit"] == 1

    # a second PUT to the same (still valid) URL cannot revive it: it is removed too
    again = store(name, MP4)
    assert deliver(on_scratch, name, again, uuid.uuid4().hex) == "ignored: upload already rejected"
    assert gcs.stat(SCRATCH, name) is None
    assert (
        effects(lesson["channel_id"], upload_id, lesson["lesson_id"])["upload"]["status"]
        == "rejected"
    )


def test_events_for_other_objects_are_acked_and_ignored(lesson, on_scratch):
    cid = lesson["channel_id"]
    cases = [
        ("other-bucket", f"channels/{cid}/uploads/{uuid.uuid4()}/v.mp4", "other bucket"),
        (on_scratch, f"channels/{cid}/thumbnails/{uuid.uuid4()}.jpg", "not an upload"),
        (on_scratch, f"channels/{cid}/uploads/{uuid.uuid4()}/v.mp4", "no such upload"),
        (on_scratch, f"channels/{uuid.uuid4()}/uploads/{uuid.uuid4()}/v.mp4", "no such upload"),
        (on_scratch, "channels/../uploads/x/v.mp4", "not an upload"),
    ]
    for bucket, name, why in cases:
        assert why in deliver(bucket, name, 1, uuid.uuid4().hex)


def test_a_transient_storage_error_raises_so_pubsub_redelivers(lesson, on_scratch, monkeypatch):
    upload_id, name = new_upload(lesson)
    gen = store(name, MP4)
    app = create_app(
        "on_media_finalized", str(ROOT / "functions" / "media_finalized" / "main.py"), "cloudevent"
    ).test_client()
    body = push_body(on_scratch, name, gen, uuid.uuid4().hex)

    def unavailable(*args, **kwargs):
        raise gexc.ServiceUnavailable("storage is down")

    with monkeypatch.context() as m:
        m.setattr(gcs, "describe", unavailable)
        assert app.post("/", json=body).status_code == 500
    assert (
        effects(lesson["channel_id"], upload_id, lesson["lesson_id"])["upload"]["status"]
        == "pending"
    )
    assert app.post("/", json=body).status_code == 200  # the redelivery succeeds
    assert (
        effects(lesson["channel_id"], upload_id, lesson["lesson_id"])["upload"]["status"] == "ready"
    )


def test_malformed_pushes_through_the_gateway_are_answered_not_crashed(gateway_url):
    url = f"{gateway_url}/_events/media_finalized"
    good = push_body(
        settings().bucket("media"),
        f"channels/{uuid.uuid4()}/uploads/{uuid.uuid4()}/v.mp4",
        1,
        uuid.uuid4().hex,
    )
    assert requests.post(url, json=good, timeout=10).status_code in (200, 204)
    bad_data = json.loads(json.dumps(good))
    bad_data["message"]["data"] = "!!!not base64!!!"
    bad_data["message"]["attributes"] = {"eventType": "OBJECT_FINALIZE"}
    assert requests.post(url, json=bad_data, timeout=10).status_code in (200, 204)
    not_json = json.loads(json.dumps(good))
    not_json["message"]["data"] = base64.b64encode(b"[1, 2").decode()
    assert requests.post(url, json=not_json, timeout=10).status_code in (200, 204)
    deleted = push_body(settings().bucket("media"), "x", 1, uuid.uuid4().hex, "OBJECT_DELETE")
    assert requests.post(url, json=deleted, timeout=10).status_code in (200, 204)
