"""Queueing a recording's ingest (issue 11 item 4): the live webhook's part of the pipeline
in recordings.py, apart from the worker so that the webhook reaches no bucket, URL signer or
media code."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from shared.live.recording_rules import pick_mp4, task_id
from shared.platform.db import transaction
from shared.platform.ids import uuid7

log = logging.getLogger("live_recordings")
QUEUE = "live-recordings"
WORKER = "live_recording_ingest"


def enqueue_recording_ingest(channel_id: UUID, session_id: UUID, event: dict[str, Any]) -> None:
    """Queue the ingest of the event's MP4 for the session (idempotent: one ingest row per
    session; the same delivery twice is one task). Raises on a transient failure so the
    webhook's own task is retried; an event without an MP4 is logged and dropped."""
    recording = pick_mp4(event)
    cid, sid = str(channel_id), str(session_id)
    if recording is None:
        log.info("recording.completed for session %s has no MP4; nothing to ingest", sid)
        return
    with transaction(channel_id=cid) as tx:
        if tx.one("SELECT 1 FROM live_sessions WHERE id = :s", s=sid) is None:
            log.warning("recording for unknown session %s of channel %s dropped", sid, cid)
            return
        tx.exec(
            "INSERT INTO live_recording_ingests (id, channel_id, session_id, provider_file_id,"
            " size_bytes) VALUES (:id, app_channel_id(), :s, :f, :n)"
            " ON CONFLICT (session_id) DO NOTHING",
            id=uuid7(),
            s=sid,
            f=recording.file_id,
            n=recording.size_bytes,
        )
        # A delivery after a failed download (Zoom's retry carries a fresh token) starts the
        # download over; a failure after the lesson exists stays for an operator.
        tx.exec(
            "UPDATE live_recording_ingests SET status = 'queued', error = NULL, upload_uri = NULL,"
            " bytes_stored = 0, updated_at = now()"
            " WHERE session_id = :s AND status = 'failed' AND lesson_id IS NULL",
            s=sid,
        )
        row = tx.one("SELECT id, status FROM live_recording_ingests WHERE session_id = :s", s=sid)
    assert row is not None
    if row["status"] in ("ready", "lesson_pending"):
        return  # a duplicate delivery: the lesson exists
    from shared.adapters import tasks

    token = event.get("download_token")
    token = token if isinstance(token, str) and token else None
    ingest_id = str(row["id"])
    tasks.enqueue(
        queue=QUEUE,
        function=WORKER,
        payload={
            "channel_id": cid,
            "ingest_id": ingest_id,
            "download_url": recording.download_url,
            "download_token": token,
        },
        task_id=task_id(ingest_id, recording.download_url, token),
    )
