"""Pure rules of recordings becoming lessons (no I/O): which file of Zoom's
`recording.completed` event to take, where it is stored, how long it is kept, and the state
of an ingest as the Workflow shows it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

# Bounded memory: one chunk in flight plus one being filled. A multiple of 256 KiB (GCS).
CHUNK_BYTES = 8 * 1024 * 1024
# States a worker continues from, in pipeline order (`ready` and `failed` are final).
PIPELINE = ("queued", "downloading", "stored", "lesson_pending", "ready")
# Zoom's MP4 views, best first, when a meeting produced several.
_PREFERRED_VIEWS = (
    "shared_screen_with_speaker_view",
    "shared_screen_with_gallery_view",
    "speaker_view",
    "gallery_view",
    "shared_screen",
    "active_speaker",
)


@dataclass(frozen=True)
class RecordingFile:
    file_id: str
    download_url: str
    size_bytes: int | None
    meeting_id: str
    topic: str


def pick_mp4(event: Any) -> RecordingFile | None:
    """The MP4 of a `recording.completed` event worth a lesson (Zoom lists one file per view
    and type; audio-only, chat and transcripts are skipped), or None when it has none."""
    obj = (event.get("payload") or {}).get("object") if isinstance(event, dict) else None
    files = obj.get("recording_files") if isinstance(obj, dict) else None
    if not isinstance(files, list):
        return None
    mp4s = [
        f
        for f in files
        if isinstance(f, dict)
        and str(f.get("file_type", "")).upper() == "MP4"
        and isinstance(f.get("download_url"), str)
        and str(f.get("status", "completed")).lower() == "completed"
    ]
    if not mp4s:
        return None

    def rank(f: dict[str, Any]) -> int:
        view = f.get("recording_type")
        return _PREFERRED_VIEWS.index(view) if view in _PREFERRED_VIEWS else len(_PREFERRED_VIEWS)

    best = min(mp4s, key=rank)
    size = best.get("file_size")
    return RecordingFile(
        file_id=str(best.get("id") or best["download_url"]),
        download_url=best["download_url"],
        size_bytes=size if isinstance(size, int) and size > 0 else None,
        meeting_id=str(obj.get("id", "")) if isinstance(obj, dict) else "",
        topic=str(obj.get("topic", "")) if isinstance(obj, dict) else "",
    )


def download_allowed(url: str, *, local_base: str | None) -> bool:
    """Only Zoom's own hosts (https) may be fetched with a download token; locally the
    stand-in's base too. The event is signed, but a token must never go anywhere else."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and (host == "zoom.us" or host.endswith(".zoom.us")):
        return True
    return bool(local_base) and url.startswith(str(local_base).rstrip("/") + "/")


def object_name(channel_id: str, session_id: str, ingest_id: str) -> str:
    """Where a session's recording lives in the recordings bucket (channel prefix first, as
    every object of the platform)."""
    return f"channels/{channel_id}/live-sessions/{session_id}/{ingest_id}.mp4"


def retain_until(now: datetime, retention_days: int) -> datetime:
    """The object's customTime: the bucket's lifecycle deletes it a day after."""
    return now + timedelta(days=max(1, retention_days))


def task_id(ingest_id: str, download_url: str, token: str | None) -> str:
    """Cloud Tasks name of one delivery's work: the same event twice is one task; a fresh
    token (Zoom's later redelivery) may queue again. Never the token itself."""
    digest = hashlib.sha256(f"{download_url}\0{token or ''}".encode()).hexdigest()[:16]
    return f"rec-{ingest_id}-{digest}"


def full_chunks(buffered: int, chunk: int = CHUNK_BYTES) -> int:
    """How many whole chunks to send now out of `buffered` bytes, keeping at least one byte
    back so the last chunk (which carries the total) is never empty."""
    return max(0, (buffered - 1) // chunk)


def shown_state(status: str, lesson_status: str | None) -> str:
    """The pipeline state shown: a lesson made ready by media's finalize counts as ready."""
    if status == "lesson_pending" and lesson_status == "ready":
        return "ready"
    return status


def lesson_title(session_title: str) -> str:
    return f"Recording: {session_title}"[:200]
