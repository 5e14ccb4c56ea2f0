"""Zoom's webhooks: verify, route to the channel's session, record each delivery once.

Verification. `x-zm-signature: v0=<hex HMAC-SHA256 of "v0:{x-zm-request-timestamp}:{raw body}">`
under the Zoom app's secret token, compared in constant time, with the timestamp within 300 s
of now either way. Anything else is 401 and writes nothing: the refusal is a log line of the
`webhook_rejected` metric (shared.platform.webhook_rejections), never a row per request. The
`endpoint.url_validation` challenge is answered only when it is signed the same way.

Routing. The platform has one Zoom app that every channel's Zoom account installs; an event
names the account (`payload.account_id`) and the meeting (`payload.object.id`). The session is
found across tenants by both (`live_session_of`, a SECURITY DEFINER function only this
function's role may run): an event about a meeting of another account finds nothing and
changes nothing (200, ignored), so a channel can never act on another channel's session by
sending events from its own account.

Exactly once. Each routed delivery is claimed in `live_webhook_deliveries` under a key of
Zoom's event, event_ts and the payload's hash, in the same transaction as its effects: a
redelivery answers 200 and changes nothing; two at once serialize on the key.

Fast. What a delivery does here is a few rows in one transaction (status, a participant
event, an analytics event); pairing and summing attendance happens on read. The one heavy
job, bringing a recording in, goes to a Cloud Task (`enqueue_recording_ingest`), queued once
the claim commits; a failure to queue withdraws the claim, so Zoom's retry queues it again.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from shared.live import attendance_rules as rules
from shared.platform import audit
from shared.platform.config import settings
from shared.platform.db import Tx, transaction
from shared.platform.errors import BadRequest, Unauthorized
from shared.platform.ids import uuid7
from shared.platform.log import log_context
from shared.platform.webhook_rejections import reject

log = logging.getLogger("live_webhook")
PROVIDER = "zoom"


def handle_zoom_webhook(
    *, body: bytes, signature: str | None, timestamp: str | None
) -> dict[str, Any]:
    """The webhook use case: the challenge's answer, or what the delivery did."""
    secret = settings().zoom_webhook_secret_token.get_secret_value()
    try:
        rules.verify(body, signature, timestamp, secret, now=time.time())
    except rules.BadSignature as e:
        reject(provider=PROVIDER, reason=str(e))
        raise Unauthorized("Bad, stale or missing Zoom signature.") from e
    try:
        event = rules.parse_event(body)
    except rules.NotAnEvent as e:
        raise BadRequest(f"Not a Zoom event: {e}.") from e
    if event.event == "endpoint.url_validation":
        plain = event.payload.get("plainToken")
        if not isinstance(plain, str) or not 0 < len(plain) <= 256:
            raise BadRequest("The challenge has no plainToken.")
        return {"plainToken": plain, "encryptedToken": rules.encrypted_token(plain, secret)}
    return process(event, body)


def _ignored(event: rules.Event, why: str) -> dict[str, Any]:
    log.info("zoom event %s ignored: %s", event.event, why)
    return {"received": True, "status": "ignored"}


def process(event: rules.Event, body: bytes) -> dict[str, Any]:
    if event.account_id is None or event.meeting_id is None:
        return _ignored(event, "no account or meeting")
    with transaction() as tx:
        found = tx.one(
            "SELECT channel_id, session_id FROM live_session_of(:a, :m)",
            a=event.account_id,
            m=event.meeting_id,
        )
    if found is None:  # unknown meeting, or a meeting of another account
        return _ignored(event, "no session of this account and meeting")
    channel_id, session_id = str(found["channel_id"]), str(found["session_id"])
    ctx = log_context.get()
    if ctx is not None:
        ctx["channel_id"] = channel_id
    key = rules.dedupe_key(event.event, event.event_ts, body)
    with transaction(channel_id=channel_id) as tx:
        claimed = tx.one(
            "INSERT INTO live_webhook_deliveries (channel_id, dedupe_key, session_id, event,"
            " event_ts) VALUES (app_channel_id(), :k, :s, :e,"
            " to_timestamp(CAST(:ts AS double precision) / 1000))"
            " ON CONFLICT DO NOTHING RETURNING dedupe_key",
            k=key,
            s=session_id,
            e=event.event,
            ts=event.event_ts,
        )
        if claimed is None:
            return {"received": True, "status": "duplicate"}
        status = _apply(tx, event, channel_id, session_id)
    if event.event == "recording.completed":
        status = _recording(channel_id, session_id, key, event)
    log.info("zoom event %s for session %s: %s", event.event, session_id, status)
    return {"received": True, "status": status}


def _apply(tx: Tx, event: rules.Event, channel_id: str, session_id: str) -> str:
    if event.event == "meeting.started":
        at = rules.parse_zoom_time(event.obj.get("start_time")) or _ts(event)
        tx.exec(
            "UPDATE live_sessions SET started_at = coalesce(started_at, :t),"
            " status = CASE WHEN status = 'scheduled' THEN 'live' ELSE status END"
            " WHERE id = :s AND channel_id = app_channel_id()",
            t=at,
            s=session_id,
        )
        return "applied"
    if event.event == "meeting.ended":
        at = rules.parse_zoom_time(event.obj.get("end_time")) or _ts(event)
        # an `ended` seen before its `started` still ends the session; `started` then only
        # fills started_at (Zoom does not order deliveries)
        was = tx.scalar(  # locked: of two concurrent ends, one sees the change
            "SELECT status FROM live_sessions WHERE id = :s AND channel_id = app_channel_id()"
            " FOR UPDATE",
            s=session_id,
        )
        row = tx.one(
            "UPDATE live_sessions SET ended_at = coalesce(ended_at, :t),"
            " status = CASE WHEN status IN ('scheduled', 'live') THEN 'ended' ELSE status END"
            " WHERE id = :s AND channel_id = app_channel_id() RETURNING batch_id, ended_at",
            t=at,
            s=session_id,
        )
        if row is not None and was in ("scheduled", "live"):
            # attendance is final: e.g. the batch certificate rule re-checks the batch
            payload = {
                "session_id": session_id,
                "batch_id": str(row["batch_id"]),
                "ended_at": row["ended_at"].isoformat(),
            }
            audit.record_change(
                tx,
                channel_id=channel_id,
                actor_user_id=None,
                action="live_session.ended",
                target_type="live_session",
                target_id=session_id,
                payload=payload,
                details=payload,
            )
        return "applied"
    if event.event in rules.PARTICIPANT_EVENTS:
        p = rules.participation(event)
        if p is None:
            return "ignored"
        _participant(tx, p, session_id)
        return "applied"
    return "ignored"


def _ts(event: rules.Event) -> datetime:
    return datetime.fromtimestamp(event.event_ts / 1000, UTC)


def _participant(tx: Tx, p: rules.Participation, session_id: str) -> None:
    inserted = tx.one(
        "INSERT INTO live_participant_events (id, channel_id, session_id, device_key, kind, at,"
        " registrant_id, email, display_name) VALUES (:id, app_channel_id(), :s, :d, :k, :at,"
        " :r, :e, :n) ON CONFLICT (session_id, device_key, kind, at) DO NOTHING RETURNING id",
        id=uuid7(),
        s=session_id,
        d=p.device_key,
        k=p.kind,
        at=p.at,
        r=p.registrant_id,
        e=p.email,
        n=p.display_name,
    )
    if inserted is None or p.kind != "join":
        return
    # Each join is an analytics fact, attributed when we know the student (no email in it).
    student = tx.one(
        "SELECT e.user_id, s.batch_id FROM live_sessions s"
        " JOIN enrollments e ON e.batch_id = s.batch_id AND e.channel_id = s.channel_id"
        " JOIN users u ON u.id = e.user_id"
        " WHERE s.id = :s AND s.channel_id = app_channel_id()"
        " AND (u.id = (SELECT g.user_id FROM live_registrants g"
        "             WHERE g.session_id = :s AND g.registrant_id = :r)"
        "      OR lower(u.email) = lower(:e))"
        " LIMIT 1",
        s=session_id,
        r=p.registrant_id,
        e=p.email,
    )
    from shared import analytics

    analytics.record(
        tx,
        event_type="live.joined",
        user_id=str(student["user_id"]) if student else None,
        metadata={"session_id": session_id, "guest": student is None},
    )


def _recording(channel_id: str, session_id: str, key: str, event: rules.Event) -> str:
    """Queue the ingest (a Cloud Task streams the file in; `enqueue_recording_ingest` is
    idempotent per session). After the claim commits, so the webhook never holds two pooled
    connections; if queuing fails the claim is withdrawn and the error answers 500, so Zoom's
    retry is not taken for a duplicate."""
    from uuid import UUID

    from shared import live

    try:
        live.enqueue_recording_ingest(UUID(channel_id), UUID(session_id), dict(event.raw))
    except Exception:
        with transaction(channel_id=channel_id) as tx:
            tx.exec(
                "DELETE FROM live_webhook_deliveries WHERE channel_id = app_channel_id()"
                " AND dedupe_key = :k",
                k=key,
            )
        raise
    return "queued"
