"""Uploads the platform makes itself (no signed URL, no caller): a live class's recording is
copied into the media bucket under an upload of purpose `lesson_video`, so the bucket's
finalize event runs media's usual checks (MP4 probe, duration, lesson attach, thumbnail)."""

from __future__ import annotations

from shared.media.service import object_name_for
from shared.platform.db import Tx
from shared.platform.ids import uuid7


def register_system_video(
    tx: Tx,
    *,
    channel_id: str,
    course_id: str,
    lesson_id: str,
    filename: str,
    size_bytes: int,
    created_by: str,
) -> tuple[str, str]:
    """Record a pending `lesson_video` upload for the lesson in the caller's transaction;
    answers (upload id, object name in the media bucket) for the copy to land at. Not counted
    against the upload quota check: the recording is the channel's own class, not a client
    asking for space (it is still counted as held storage afterwards)."""
    upload_id = uuid7()
    name = object_name_for(channel_id, upload_id, filename)
    tx.exec(
        "INSERT INTO uploads (id, channel_id, purpose, course_id, lesson_id, object_name,"
        " filename, content_type, size_bytes, created_by) VALUES (:id, app_channel_id(),"
        " 'lesson_video', :c, :l, :o, :f, 'video/mp4', :s, :u)",
        id=upload_id,
        c=course_id,
        l=lesson_id,
        o=name,
        f=filename,
        s=size_bytes,
        u=created_by,
    )
    return upload_id, name
