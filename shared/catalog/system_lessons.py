"""Lessons the platform adds on its own (no caller to authorize): a live class's recording
becomes a video lesson of the batch's course (issue 11 item 4)."""

from __future__ import annotations

from shared.catalog.guards import require_writable
from shared.platform import audit
from shared.platform.db import Tx
from shared.platform.ids import uuid7


def add_system_lesson(tx: Tx, *, channel_id: str, course_id: str, title: str) -> str:
    """Append a video lesson (status pending_media until media attaches its video) to the
    course, in the caller's transaction; answers its id. Conflict when the course is
    archived."""
    status = tx.scalar(
        "SELECT status FROM courses WHERE id = :c AND channel_id = app_channel_id()"
        " FOR NO KEY UPDATE",
        c=course_id,
    )  # row lock: positions are assigned one at a time, as create_lesson does
    require_writable(status)
    position = tx.scalar(
        "SELECT coalesce(max(position), 0) + 1 FROM lessons WHERE course_id = :c", c=course_id
    )
    lesson_id = uuid7()
    tx.exec(
        "INSERT INTO lessons (id, channel_id, course_id, position, title, kind, body, status)"
        " VALUES (:id, app_channel_id(), :c, :p, :t, 'video', '', 'pending_media')",
        id=lesson_id,
        c=course_id,
        p=position,
        t=title,
    )
    audit.record_change(
        tx,
        channel_id=channel_id,
        actor_user_id=None,
        action="lesson.created",
        target_type="lesson",
        target_id=lesson_id,
        payload={
            "course_id": course_id,
            "lesson_id": lesson_id,
            "kind": "video",
            "position": position,
        },
    )
    return lesson_id
