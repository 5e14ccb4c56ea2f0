"""Reminder mails of live classes, and the notice when one moves.

Reminders (cron `live_reminders`, every 5 minutes): each active student of the batch gets a
mail 24 h and 1 h before a scheduled session, exactly once per student, session and kind. The
cron finds the sessions starting within a day across channels (`live_sessions_starting`, only
its role may run it), then per student claims `live_reminders (session, user, kind)` and sends
in that transaction: a second run, or two at once, finds the claim and sends nothing; a relay
failure rolls the claim back for the next run. A cancelled session is never claimed (the claim
re-checks the status under the row's lock).

Moves (consumer `live_notices` of `live_session.rescheduled`): each active student gets a mail
with the new time, once per event and student (`processed_events`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.adapters import email
from shared.live import attendance_rules as rules
from shared.platform.config import settings
from shared.platform.consumers import first_delivery
from shared.platform.db import transaction
from shared.platform.ids import is_uuid

log = logging.getLogger("live_reminders")
NOTICES = "live_notices"
_STUDENTS = (
    "SELECT u.id, u.email, u.display_name FROM live_sessions s"
    " JOIN enrollments e ON e.batch_id = s.batch_id AND e.channel_id = s.channel_id"
    "  AND e.status = 'active'"
    " JOIN users u ON u.id = e.user_id AND u.erased_at IS NULL"
    " WHERE s.id = :s AND s.channel_id = app_channel_id()"
)
_SESSION = (
    "SELECT s.id, s.title, s.starts_at, s.duration_minutes, s.status, s.join_url,"
    " c.title AS course_title, ch.name AS channel_name"
    " FROM live_sessions s JOIN batches b ON b.id = s.batch_id"
    " JOIN courses c ON c.id = b.course_id JOIN channels ch ON ch.id = s.channel_id"
    " WHERE s.id = :s AND s.channel_id = app_channel_id()"
)


def send_due_reminders(*, now: datetime | None = None, limit: int = 1000) -> dict[str, int]:
    """Cron body: the reminders due now, each sent once."""
    now = now or datetime.now(UTC)
    with transaction() as tx:
        due = tx.all(
            "SELECT channel_id, session_id, starts_at FROM"
            " live_sessions_starting(interval '24 hours', :n)",
            n=limit,
        )
    sent = 0
    for row in due:
        kind = rules.due_reminder(row["starts_at"], now)
        if kind is not None:
            sent += _remind(str(row["channel_id"]), str(row["session_id"]), kind)
    return {"sessions": len(due), "sent": sent}


def _remind(channel_id: str, session_id: str, kind: str) -> int:
    with transaction(channel_id=channel_id) as tx:
        session = tx.one(_SESSION, s=session_id)
        students = tx.all(
            _STUDENTS + " AND NOT EXISTS (SELECT 1 FROM live_reminders r WHERE r.session_id = s.id"
            " AND r.user_id = u.id AND r.kind = :k)",
            s=session_id,
            k=kind,
        )
    if session is None:
        return 0
    sent = 0
    for st in students:
        with transaction(channel_id=channel_id) as tx:
            claimed = tx.one(
                "INSERT INTO live_reminders (channel_id, session_id, user_id, kind, starts_at)"
                " SELECT app_channel_id(), s.id, :u, :k, s.starts_at FROM live_sessions s"
                " WHERE s.id = :s AND s.channel_id = app_channel_id() AND s.status = 'scheduled'"
                " FOR SHARE OF s ON CONFLICT DO NOTHING RETURNING starts_at",
                s=session_id,
                u=st["id"],
                k=kind,
            )
            if claimed is None:  # already sent, or cancelled meanwhile
                continue
            current = {**session, "starts_at": claimed["starts_at"]}
            email.send(
                to=st["email"],
                subject=reminder_subject(current, kind),
                text=reminder_body(current, st, kind),
            )
        sent += 1
    return sent


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%A %d %B %Y, %H:%M UTC")


def reminder_subject(s: Mapping[str, Any], kind: str) -> str:
    ahead = "tomorrow" if kind == "24h" else "in an hour"
    return f"Live class {ahead}: {s['title']}"


def reminder_body(s: Mapping[str, Any], student: Mapping[str, Any], kind: str) -> str:
    ahead = "in 24 hours" if kind == "24h" else "in one hour"
    return (
        f"Hello {student['display_name']},\n\n"
        f'The live class "{s["title"]}" of {s["course_title"]} ({s["channel_name"]}) starts'
        f" {ahead}: {_when(s['starts_at'])}, for {s['duration_minutes']} minutes.\n\n"
        f"Join: {s['join_url']}\n"
        f"Your calendar feed: {settings().public_base_url.rstrip('/')}/v1/me/calendar\n"
    )


def on_session_rescheduled(*, envelope: Any, attributes: Mapping[str, str]) -> str:
    """Consumer of `live_session.rescheduled`: tell each active student the new time."""
    if not isinstance(envelope, dict) or envelope.get("type") != "live_session.rescheduled":
        return "malformed"
    event_id = envelope.get("id")
    channel_id = str(envelope.get("channel_id"))
    raw = envelope.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    session_id = str(data.get("session_id"))
    if not (isinstance(event_id, str) and is_uuid(channel_id) and is_uuid(session_id)) or (
        attributes.get("channel_id") not in (None, channel_id)
    ):
        log.warning("malformed live_session.rescheduled event dropped")
        return "malformed"
    with transaction(channel_id=channel_id) as tx:
        session = tx.one(_SESSION, s=session_id)
        students = tx.all(_STUDENTS, s=session_id)
    if session is None or session["status"] != "scheduled":
        return "skipped"  # cancelled since: the cancellation is what counts
    was = data.get("was")
    before = rules.parse_zoom_time(was.get("starts_at") if isinstance(was, dict) else None)
    sent = 0
    for st in students:
        with transaction(channel_id=channel_id) as tx:
            if not first_delivery(tx, consumer=NOTICES, event_id=f"{event_id}:{st['id']}"):
                continue
            email.send(
                to=st["email"],
                subject=f"Live class moved: {session['title']}",
                text=moved_body(session, st, before),
            )
        sent += 1
    return f"sent {sent}"


def moved_body(s: Mapping[str, Any], student: Mapping[str, Any], before: datetime | None) -> str:
    was = f" (was {_when(before)})" if before else ""
    return (
        f"Hello {student['display_name']},\n\n"
        f'The live class "{s["title"]}" of {s["course_title"]} ({s["channel_name"]}) now'
        f" starts {_when(s['starts_at'])}{was}, for {s['duration_minutes']} minutes.\n\n"
        f"Join: {s['join_url']}\n"
    )
