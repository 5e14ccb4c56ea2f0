"""Recordings into lessons (issue 11 item 4).

`recording.completed` (verified by the live webhook) -> `enqueue_recording_ingest`
(recording_queue.py) records one ingest per session and queues a Cloud Task -> the worker
`live_recording_ingest` runs `ingest_recording`:

  queued/downloading  stream the MP4 from Zoom (the event's download token, Bearer) into the
                      recordings bucket through a GCS resumable upload, one chunk in memory at
                      a time; the session URI and acknowledged offset are kept in the row, so a
                      worker that dies continues where storage stopped (Range request to Zoom)
  stored              a video lesson of the batch's course and a media upload record for it;
                      the object is copied server-side into the media bucket under that
                      upload's name, and media's own finalize (bucket notification ->
                      media_finalized) probes the MP4, marks the lesson ready with its duration
                      and queues its thumbnail, as for any upload
  lesson_pending      until media says the lesson is ready (shown as `ready`)

The download token is a credential: it travels only inside the task body (enqueue -> worker),
is never logged, never written to Postgres or storage metadata. The recordings object carries
`customTime` = now + the channel plan's retention; the bucket lifecycle deletes it after that.
The lesson's copy in the media bucket is the course's, and lives as long as the lesson.

Duplicate deliveries find the session's one ingest row (UNIQUE session_id) and its one lesson.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from shared.live.recording_rules import (
    CHUNK_BYTES,
    download_allowed,
    full_chunks,
    lesson_title,
    object_name,
    retain_until,
    shown_state,
)
from shared.platform.config import settings
from shared.platform.db import transaction
from shared.platform.errors import Conflict
from shared.platform.ids import is_uuid

log = logging.getLogger("live_recordings")
BUCKET = "recordings"
CONTENT_TYPE = "video/mp4"
READ_BYTES = 1024 * 1024  # one read from the download stream
CHUNK = CHUNK_BYTES  # per upload request (tests use smaller ones; a multiple of 256 KiB)
_INGEST = (
    "id, session_id, provider_file_id, status, size_bytes, object_name, upload_uri,"
    " bytes_stored, retain_until, lesson_id, upload_id, error, attempts"
)


class IngestRetry(Exception):
    """A transient failure: the task answers 500 and Cloud Tasks tries again later."""


# -- the worker ----------------------------------------------------------------------------
def ingest_recording(
    *, channel_id: Any, ingest_id: Any, download_url: Any, download_token: Any
) -> str:
    """One attempt of the pipeline from wherever the ingest stands. Answers the outcome (for
    the task's log); raises IngestRetry for a transient failure."""
    if not (is_uuid(channel_id) and is_uuid(ingest_id) and isinstance(download_url, str)):
        return "malformed task"
    token = download_token if isinstance(download_token, str) and download_token else None
    row = _load(channel_id, ingest_id)
    if row is None:
        return "unknown ingest"
    if row["status"] in ("queued", "downloading"):
        if not download_allowed(download_url, local_base=_local_base()):
            _fail(channel_id, ingest_id, "download URL is not Zoom's")
            return "refused download URL"
        _store(channel_id, row, download_url, token)
        row = _load(channel_id, ingest_id) or row
    if row["status"] == "stored":
        try:
            _make_lesson(channel_id, row)
        except Conflict as e:  # the course was archived: no lesson can be added to it
            _fail(channel_id, ingest_id, f"no lesson made: {e}")
        row = _load(channel_id, ingest_id) or row
    elif row["status"] == "lesson_pending" and _lesson_status(channel_id, row) != "ready":
        # A retry after the copy or finalize failed: the lesson and its upload exist.
        _copy_and_finalize(
            channel_id, ingest_id, row["object_name"], _upload_object(channel_id, row)
        )
    return str(row["status"])


def _lesson_status(channel_id: str, row: dict[str, Any]) -> str | None:
    with transaction(channel_id=channel_id) as tx:
        return tx.scalar("SELECT status FROM lessons WHERE id = :l", l=row["lesson_id"])


def _upload_object(channel_id: str, row: dict[str, Any]) -> str:
    with transaction(channel_id=channel_id) as tx:
        return str(tx.scalar("SELECT object_name FROM uploads WHERE id = :u", u=row["upload_id"]))


def _local_base() -> str | None:
    s = settings()
    return s.zoom_api_base if s.zoom_client_id is None else None


def _load(channel_id: str, ingest_id: str) -> dict[str, Any] | None:
    with transaction(channel_id=channel_id) as tx:
        return tx.one(f"SELECT {_INGEST} FROM live_recording_ingests WHERE id = :i", i=ingest_id)


def _update(channel_id: str, ingest_id: str, **fields: Any) -> None:
    sets = ", ".join(f"{k} = :{k}" for k in fields)
    with transaction(channel_id=channel_id) as tx:
        tx.exec(
            f"UPDATE live_recording_ingests SET {sets}, updated_at = now() WHERE id = :ingest_id",
            ingest_id=ingest_id,
            **fields,
        )


def _fail(channel_id: str, ingest_id: str, why: str) -> None:
    log.warning("recording ingest %s failed: %s", ingest_id, why)
    _update(channel_id, ingest_id, status="failed", error=why[:500])


def _open_upload(channel_id: str, row: dict[str, Any]) -> tuple[str, str]:
    """The ingest's resumable session (a new one with customTime from the plan if none)."""
    from shared.adapters import gcs_resumable
    from shared.billing import plan_of

    if row["upload_uri"]:
        return row["upload_uri"], row["object_name"]
    name = object_name(channel_id, str(row["session_id"]), str(row["id"]))
    with transaction(channel_id=channel_id) as tx:
        until = retain_until(datetime.now(UTC), plan_of(tx).recording_retention_days)
    uri = gcs_resumable.start(BUCKET, name, content_type=CONTENT_TYPE, custom_time=until)
    _update(
        channel_id,
        str(row["id"]),
        status="downloading",
        object_name=name,
        upload_uri=uri,
        bytes_stored=0,
        retain_until=until,
    )
    return uri, name


def _resume_offset(channel_id: str, row: dict[str, Any], uri: str) -> int:
    from shared.adapters import gcs_resumable

    if not row["upload_uri"]:
        return 0
    truth = gcs_resumable.persisted_offset(uri)
    if truth == -1:  # storage already has it all (died before recording that)
        return -1
    return int(row["bytes_stored"]) if truth is None else truth


def _access_token(channel_id: str, token: str | None) -> str:
    """The event's download token, else the channel's own Zoom access token (an event
    delivered without `download_token`)."""
    if token:
        return token
    from shared.live.zoom_accounts import access_token

    return access_token(channel_id)


def _store(channel_id: str, row: dict[str, Any], url: str, token: str | None) -> None:
    """Stream the MP4 from Zoom into the recordings bucket, chunk by chunk, from the offset
    storage acknowledged last."""
    from shared.adapters import gcs_resumable, zoom

    ingest_id = str(row["id"])
    uri, _ = _open_upload(channel_id, row)
    offset = _resume_offset(channel_id, row, uri)
    if offset == -1:
        _update(channel_id, ingest_id, status="stored")
        return
    chunk = CHUNK
    try:
        with zoom.open_download(url, _access_token(channel_id, token), start=offset) as stream:
            total = stream.total_bytes
            buf = bytearray()
            while True:
                piece = stream.read(READ_BYTES)
                if piece:
                    buf += piece
                for _ in range(full_chunks(len(buf), chunk) if piece else 0):
                    acked = gcs_resumable.put_chunk(
                        uri, bytes(memoryview(buf)[:chunk]), offset=offset, total=None
                    )
                    if acked != offset + chunk:
                        raise IngestRetry(f"storage acknowledged {acked}, not {offset + chunk}")
                    del buf[:chunk]
                    offset = acked
                    _update(channel_id, ingest_id, bytes_stored=offset)
                if not piece:
                    break
            size = offset + len(buf)
            if total is not None and size != total:
                raise IngestRetry(f"download ended at {size} of {total} bytes")
            gcs_resumable.put_chunk(uri, bytes(buf), offset=offset, total=size)
    except gcs_resumable.SessionGone:
        # Expired after a week or cancelled: start over with a new session next attempt.
        _update(channel_id, ingest_id, upload_uri=None, bytes_stored=0)
        raise IngestRetry("the resumable session is gone; starting over") from None
    except zoom.DownloadRefused as e:
        _fail(channel_id, ingest_id, str(e))
        return
    except (zoom.LiveProviderUnavailable, zoom.LiveProviderError, *gcs_resumable.TRANSIENT) as e:
        raise IngestRetry(str(e)) from e
    _update(channel_id, ingest_id, status="stored", bytes_stored=size, size_bytes=size)
    log.info("recording %s stored: %d bytes", ingest_id, size)


def _make_lesson(channel_id: str, row: dict[str, Any]) -> None:
    """The lesson (and its media upload record) in one transaction with the session's link,
    then the server-side copy that media's finalize turns into a ready lesson."""
    from shared.catalog import add_system_lesson
    from shared.media import register_system_video

    ingest_id = str(row["id"])
    upload_id, name = row["upload_id"], None
    with transaction(channel_id=channel_id) as tx:
        locked = tx.one(
            f"SELECT {_INGEST} FROM live_recording_ingests WHERE id = :i FOR UPDATE", i=ingest_id
        )
        if locked is None or locked["status"] != "stored":
            return  # a concurrent attempt made it
        session = tx.one(
            "SELECT s.id, s.title, s.created_by, b.course_id FROM live_sessions s"
            " JOIN batches b ON b.id = s.batch_id WHERE s.id = :s FOR NO KEY UPDATE OF s",
            s=locked["session_id"],
        )
        if session is None:
            return
        lesson_id = add_system_lesson(
            tx,
            channel_id=channel_id,
            course_id=str(session["course_id"]),
            title=lesson_title(session["title"]),
        )
        upload_id, name = register_system_video(
            tx,
            channel_id=channel_id,
            course_id=str(session["course_id"]),
            lesson_id=lesson_id,
            filename="recording.mp4",
            size_bytes=int(locked["size_bytes"] or locked["bytes_stored"]),
            created_by=str(session["created_by"]),
        )
        tx.exec(
            "UPDATE live_sessions SET recording_lesson_id = :l WHERE id = :s",
            l=lesson_id,
            s=session["id"],
        )
        tx.exec(
            "UPDATE live_recording_ingests SET status = 'lesson_pending', lesson_id = :l,"
            " upload_id = :u, updated_at = now() WHERE id = :i",
            l=lesson_id,
            u=upload_id,
            i=ingest_id,
        )
    _copy_and_finalize(channel_id, ingest_id, row["object_name"], str(name))


def _copy_and_finalize(channel_id: str, ingest_id: str, source: str, name: str) -> None:
    """Copy into the media bucket, then run media's finalize on the copy ourselves: the
    bucket's notification would do the same (in the cloud a rewrite emits OBJECT_FINALIZE
    too, and finalize answers a second event for a ready upload as already done), but the
    local storage emulator sends none for a copy, and the worker should not have to wait."""
    from shared.adapters import gcs_objects, gcs_resumable
    from shared.media import on_object_finalized
    from shared.platform import outbox

    try:
        gcs_resumable.copy(BUCKET, source, "media", name, content_type=CONTENT_TYPE)
        info = gcs_objects.describe("media", name)
    except gcs_resumable.TRANSIENT as e:
        raise IngestRetry(str(e)) from e
    if info is None:
        raise IngestRetry("the copy is not in the media bucket yet")
    with outbox.publishing_after_commit():
        result = on_object_finalized(
            event_id=f"live-recording-{ingest_id}-{info['generation']}",
            bucket=settings().bucket("media"),
            name=name,
            generation=info["generation"],
        )
    log.info("recording %s copied for its lesson: %s", ingest_id, result)
    if result in ("ready", "ignored: upload already ready"):
        _update(channel_id, ingest_id, status="ready")
    elif result.startswith("rejected"):
        # media refused the file (not a playable MP4): the lesson stays pending, visibly.
        _fail(channel_id, ingest_id, f"media refused the recording: {result}")


def recording_state(*, channel_id: Any, session_id: Any) -> dict[str, Any]:
    """Where a session's recording stands (for the Workflow and operators): no token, no
    upload URI."""
    if not (is_uuid(channel_id) and is_uuid(session_id)):
        return {"state": "unknown"}
    with transaction(channel_id=channel_id) as tx:
        row = tx.one(
            "SELECT i.id, i.status, i.bytes_stored, i.size_bytes, i.lesson_id, i.error,"
            " i.retain_until, l.status AS lesson_status FROM live_recording_ingests i"
            " LEFT JOIN lessons l ON l.id = i.lesson_id WHERE i.session_id = :s",
            s=session_id,
        )
    if row is None:
        return {"state": "none"}
    return {
        "state": shown_state(row["status"], row["lesson_status"]),
        "ingest_id": str(row["id"]),
        "bytes_stored": int(row["bytes_stored"]),
        "size_bytes": row["size_bytes"],
        "lesson_id": str(row["lesson_id"]) if row["lesson_id"] else None,
        "retain_until": row["retain_until"].isoformat() if row["retain_until"] else None,
        "error": row["error"],
    }
