"""Recordings into lessons (issue 11 item 4), the worker run in process against the stack's
storage emulator, Postgres and Zoom stand-in: the MP4 streamed into the recordings bucket in
chunks with the plan's customTime, resumed after a crash mid-upload without a byte twice, one
lesson for duplicate deliveries made ready by media's own finalize, and the download token
never logged nor stored."""

from __future__ import annotations

import logging
import struct
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from shared.adapters import gcs_resumable, zoom
from shared.live import recordings
from shared.live import service as live_sessions
from shared.live.recording_queue import enqueue_recording_ingest
from shared.platform.db import transaction
from tests.helpers import eventually, make_channel, signup
from tests.live_zoom_support import connect_zoom, put_recording

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "tiny_faststart.mp4"
SMALL_CHUNK = gcs_resumable.CHUNK_MULTIPLE  # 256 KiB: several chunks for a ~1.1 MB file


def mp4_of(size: int) -> bytes:
    """A playable MP4 (the fixture) padded with a top-level `free` box to `size` bytes."""
    head = FIXTURE.read_bytes()
    pad = size - len(head)
    return (
        head
        + struct.pack(">I", pad)
        + b"free"
        + bytes(range(256)) * ((pad - 8) // 256)
        + (b"\0" * ((pad - 8) % 256))
    )


@pytest.fixture(scope="module")
def world(gateway_url, stack):
    zoom.reset_client()
    owner = signup(gateway_url)
    cid = make_channel(gateway_url, owner)["id"]
    connect_zoom(gateway_url, cid, owner)
    base = f"{gateway_url}/v1/channels/{cid}"
    course = requests.post(
        f"{base}/courses", json={"title": "Cohort"}, headers=owner.headers, timeout=10
    ).json()
    batch = requests.post(
        f"{base}/courses/{course['id']}/batches",
        json={"name": "B", "starts_at": "2031-01-01T00:00:00Z"},
        headers=owner.headers,
        timeout=10,
    ).json()
    return {
        "cid": cid,
        "owner": owner,
        "course": course["id"],
        "batch": batch["id"],
        "zoom": stack.env["ZOOM_STANDIN_URL"],
        "gw": gateway_url,
    }


def new_session(world) -> dict:
    from types import SimpleNamespace

    return live_sessions.schedule_session(
        channel_id=world["cid"],
        user_id=world["owner"].id,
        batch_id=world["batch"],
        data=SimpleNamespace(
            title=f"Class {uuid.uuid4().hex[:8]}",
            starts_at=datetime.now(UTC) + timedelta(days=1),
            duration_minutes=60,
        ),
    )


def completed(rec: dict, meeting_id: str) -> dict:
    """Zoom's recording.completed body (the parts the ingest reads)."""
    return {
        "event": "recording.completed",
        "event_ts": 1,
        "download_token": rec["download_token"],
        "payload": {
            "account_id": "acc",
            "object": {
                "id": meeting_id,
                "topic": "Class",
                "recording_files": [
                    {
                        "id": "audio",
                        "file_type": "M4A",
                        "recording_type": "audio_only",
                        "status": "completed",
                        "download_url": rec["download_url"] + "-audio",
                    },
                    {
                        "id": f"file-{uuid.uuid4().hex[:6]}",
                        "file_type": "MP4",
                        "recording_type": "shared_screen_with_speaker_view",
                        "status": "completed",
                        "file_size": rec["file_size"],
                        "download_url": rec["download_url"],
                    },
                ],
            },
        },
    }


@pytest.fixture
def queued(monkeypatch):
    """Capture the Cloud Tasks the enqueue makes (the test runs the worker itself)."""
    from shared.adapters import tasks

    sent: list[dict] = []

    def fake_enqueue(*, queue, function, payload, task_id):
        sent.append({"queue": queue, "function": function, "payload": payload, "id": task_id})
        return True

    monkeypatch.setattr(tasks, "enqueue", fake_enqueue)
    monkeypatch.setattr(recordings, "CHUNK", SMALL_CHUNK)
    return sent


def ingest_row(cid: str, session_id: str) -> dict | None:
    with transaction(channel_id=cid) as tx:
        return tx.one("SELECT * FROM live_recording_ingests WHERE session_id = :s", s=session_id)


def state_upload(world, session) -> str:
    return str(ingest_row(world["cid"], session["id"])["upload_id"])


def run(task: dict) -> str:
    return recordings.ingest_recording(**task["payload"])


def test_a_recording_becomes_one_ready_lesson_and_the_token_stays_secret(
    world, queued, admin_db, caplog
):
    caplog.set_level(logging.DEBUG)
    session = new_session(world)
    data = mp4_of(1_100_000)
    rec = put_recording(world["zoom"], f"r-{uuid.uuid4().hex}.mp4", data)
    event = completed(rec, "1")
    sid = uuid.UUID(session["id"])
    enqueue_recording_ingest(uuid.UUID(world["cid"]), sid, event)
    enqueue_recording_ingest(uuid.UUID(world["cid"]), sid, event)  # a duplicate
    assert len(queued) == 2 and queued[0]["id"] == queued[1]["id"]  # one Cloud Task name
    assert queued[0]["queue"] == "live-recordings"
    assert queued[0]["payload"]["download_token"] == rec["download_token"]
    assert queued[0]["payload"]["download_url"] == rec["download_url"]  # the MP4, not audio
    assert run(queued[0]) == "ready"
    assert run(queued[1]) == "ready"  # the duplicate finds the work done
    row = ingest_row(world["cid"], session["id"])
    assert row["bytes_stored"] == len(data) == row["size_bytes"]

    # the object in the recordings bucket: every byte, with the plan's retention
    from shared.adapters.gcs_objects import client
    from shared.platform.config import settings

    blob = client().bucket(settings().bucket("recordings")).get_blob(row["object_name"])
    assert blob.size == len(data) and blob.content_type == "video/mp4"
    assert blob.download_as_bytes() == data
    free_days = 30  # the channel is on the free plan
    expected = datetime.now(UTC) + timedelta(days=free_days)
    assert abs((blob.custom_time - expected).total_seconds()) < 600
    assert blob.custom_time == row["retain_until"]

    # one lesson, made ready by media's finalize (duration from the MP4, thumbnail queued)
    conn = admin_db()
    lessons = conn.run(
        "SELECT id::text FROM lessons WHERE course_id = :c AND title LIKE 'Recording:%'"
        " AND id = (SELECT recording_lesson_id FROM live_sessions WHERE id = :s)",
        c=world["course"],
        s=session["id"],
    )
    assert len(lessons) == 1
    lesson_id = lessons[0][0]

    def ready():
        got = conn.run(
            "SELECT status, duration_seconds, video_object FROM lessons WHERE id = :l",
            l=lesson_id,
        )[0]
        return got if got[0] == "ready" and got[1] is not None and got[2] else None

    eventually(ready, timeout=30)
    state = recordings.recording_state(channel_id=world["cid"], session_id=session["id"])
    assert state["state"] == "ready" and state["lesson_id"] == lesson_id
    # the Workflow showing the pipeline reads the same state through the worker function
    import local_workflows  # scripts/ (on sys.path in the test session)

    shown = local_workflows.run(
        ROOT / "workflows" / "live_recording.yaml",
        {"channel_id": world["cid"], "session_id": session["id"], "polls": 2},
        env={"GATEWAY_URL": world["gw"]},
    )
    assert shown["state"] == "ready" and shown["lesson_id"] == lesson_id
    assert shown["size_bytes"] == len(data) and shown["polls"] == 1
    # a third delivery after it is all done: nothing queued, still one lesson
    # media's finalize queued the lesson's thumbnail, as for any uploaded video
    thumbs = [t for t in queued if t["queue"] == "media-thumbnails"]
    assert [t["payload"]["upload_id"] for t in thumbs] == [state_upload(world, session)]
    enqueue_recording_ingest(uuid.UUID(world["cid"]), sid, event)
    assert len([t for t in queued if t["queue"] == "live-recordings"]) == 2
    assert (
        conn.run(
            "SELECT count(*) FROM lessons WHERE course_id = :c AND title LIKE 'Recording:%'",
            c=world["course"],
        )[0][0]
        == 1
    )

    # the token: in no log line, no row
    token = rec["download_token"]
    assert all(token not in r.getMessage() for r in caplog.records)
    for table in ("live_recording_ingests", "audit_log", "outbox", "uploads", "lessons"):
        found = conn.run(f"SELECT count(*) FROM {table} t WHERE t::text LIKE :k", k=f"%{token}%")
        assert found[0][0] == 0, table
    assert token not in str(blob.metadata or {}) + str(blob._properties)


def test_an_ingest_that_dies_mid_upload_resumes_where_storage_stopped(world, queued, monkeypatch):
    session = new_session(world)
    data = mp4_of(5 * SMALL_CHUNK + 12_345)
    rec = put_recording(world["zoom"], f"crash-{uuid.uuid4().hex}.mp4", data)
    enqueue_recording_ingest(uuid.UUID(world["cid"]), uuid.UUID(session["id"]), completed(rec, "2"))
    real_put = gcs_resumable.put_chunk
    sent = {"n": 0}

    class Crash(BaseException):
        """The process dies (not an exception the worker could handle)."""

    def dying_put(uri, chunk, *, offset, total):
        if sent["n"] == 2:
            raise Crash
        sent["n"] += 1
        return real_put(uri, chunk, offset=offset, total=total)

    monkeypatch.setattr(gcs_resumable, "put_chunk", dying_put)
    with pytest.raises(Crash):
        run(queued[0])
    row = ingest_row(world["cid"], session["id"])
    assert row["status"] == "downloading" and row["bytes_stored"] == 2 * SMALL_CHUNK
    first_uri = row["upload_uri"]

    monkeypatch.setattr(gcs_resumable, "put_chunk", real_put)
    since = len(requests.get(f"{world['zoom']}/_local/requests", timeout=5).json()["requests"])
    assert run(queued[0]) == "ready"
    downloads = [
        r
        for r in requests.get(f"{world['zoom']}/_local/requests", timeout=5).json()["requests"][
            since:
        ]
        if r["path"].startswith("/rec/download/")
    ]
    assert [d["range"] for d in downloads] == [f"bytes={2 * SMALL_CHUNK}-"]  # resumed
    row = ingest_row(world["cid"], session["id"])
    assert row["upload_uri"] == first_uri  # the same resumable session, continued
    from shared.adapters.gcs_objects import client
    from shared.platform.config import settings

    blob = client().bucket(settings().bucket("recordings")).get_blob(row["object_name"])
    assert blob.download_as_bytes() == data  # no byte lost, none sent twice


def test_a_wrong_or_expired_download_token_fails_the_ingest_for_good(world, queued):
    session = new_session(world)
    rec = put_recording(world["zoom"], f"bad-{uuid.uuid4().hex}.mp4", mp4_of(300_000))
    event = {**completed(rec, "3"), "download_token": "not-the-token"}
    enqueue_recording_ingest(uuid.UUID(world["cid"]), uuid.UUID(session["id"]), event)
    assert run(queued[0]) == "failed"
    row = ingest_row(world["cid"], session["id"])
    assert row["status"] == "failed" and "401" in row["error"]
    assert "not-the-token" not in row["error"]
    # Zoom's next delivery carries a token that works: the ingest starts over and succeeds
    good = completed(rec, "3")
    enqueue_recording_ingest(uuid.UUID(world["cid"]), uuid.UUID(session["id"]), good)
    retry = [t for t in queued if t["queue"] == "live-recordings"][-1]
    assert retry["id"] != queued[0]["id"]
    assert run(retry) == "ready"


def test_a_download_url_that_is_not_zooms_is_refused(world, queued):
    session = new_session(world)
    rec = put_recording(world["zoom"], f"ssrf-{uuid.uuid4().hex}.mp4", mp4_of(300_000))
    event = completed(rec, "4")
    event["payload"]["object"]["recording_files"][1]["download_url"] = (
        "http://169.254.169.254/computeMetadata/v1/"
    )
    enqueue_recording_ingest(uuid.UUID(world["cid"]), uuid.UUID(session["id"]), event)
    assert run(queued[0]) == "refused download URL"
    assert ingest_row(world["cid"], session["id"])["status"] == "failed"


def test_events_for_unknown_sessions_or_without_an_mp4_queue_nothing(world, queued):
    rec = {"download_url": "http://x/rec", "download_token": "t", "file_size": 10}
    enqueue_recording_ingest(uuid.UUID(world["cid"]), uuid.uuid4(), completed(rec, "5"))
    session = new_session(world)
    no_mp4 = completed(rec, "6")
    no_mp4["payload"]["object"]["recording_files"] = no_mp4["payload"]["object"]["recording_files"][
        :1
    ]
    enqueue_recording_ingest(uuid.UUID(world["cid"]), uuid.UUID(session["id"]), no_mp4)
    assert queued == []
    assert ingest_row(world["cid"], session["id"]) is None
