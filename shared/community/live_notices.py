"""Consumer of `live_session.rescheduled` / `live_session.cancelled` (function
community_notifier): tell the batch's active students in-app, once per event and student."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.community.common import notify, when
from shared.platform.consumers import first_delivery
from shared.platform.db import transaction
from shared.platform.ids import is_uuid

CONSUMER = "community_notifier"
LIVE_EVENTS = ("live_session.rescheduled", "live_session.cancelled")


def on_live_session_changed(*, envelope: Any, attributes: Mapping[str, str]) -> str:
    """Consumer of live_session.rescheduled/cancelled: tell the batch's active students.
    Idempotent per event (processed_events) and per student (dedupe key)."""
    if not isinstance(envelope, dict) or envelope.get("type") not in LIVE_EVENTS:
        return "malformed"
    event_id, channel_id, data = (
        envelope.get("id"),
        envelope.get("channel_id"),
        envelope.get("data"),
    )
    if not (
        isinstance(event_id, str)
        and isinstance(channel_id, str)
        and is_uuid(channel_id)
        and isinstance(data, dict)
    ):
        return "malformed"
    if not (is_uuid(str(data.get("session_id"))) and is_uuid(str(data.get("batch_id")))):
        return "malformed"
    cancelled = envelope["type"] == "live_session.cancelled"
    with transaction(channel_id=str(channel_id)) as tx:
        if not first_delivery(tx, consumer=CONSUMER, event_id=event_id):
            return "duplicate"
        session = tx.one(
            "SELECT title, starts_at FROM live_sessions WHERE channel_id = app_channel_id()"
            " AND id = :s",
            s=data["session_id"],
        )
        if session is None:
            return "skipped"
        students = tx.all(
            "SELECT user_id FROM enrollments WHERE channel_id = app_channel_id()"
            " AND batch_id = :b AND status = 'active'",
            b=data["batch_id"],
        )
        title = (
            f"Live class cancelled: {session['title']}"
            if cancelled
            else f"Live class moved: {session['title']} now starts {when(session['starts_at'])}"
        )
        for s in students:
            notify(
                tx,
                channel_id=str(channel_id),
                user_id=str(s["user_id"]),
                kind="live_session",
                title=title,
                link=f"/v1/channels/{channel_id}/batches/{data['batch_id']}",
                target_type="live_session",
                target_id=data["session_id"],
                dedupe_key=f"live:{event_id}",
            )
    return "notified"
