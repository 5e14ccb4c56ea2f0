"""Pure rules of live classes (no I/O): who sees which link, what a session answer shows,
what a reschedule changes, and the start-time guard."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import Any

PAST_GRACE = timedelta(minutes=5)  # a class "starting now" survives a slow client clock


class Refusal(Enum):
    NOT_FOUND = "not_found"  # the batch's course is not visible to the caller: 404
    FORBIDDEN = "forbidden"  # a member who is neither staff nor a student of the batch: 403


def viewer_links(
    *, view_any: bool, may_host: bool, enrollment_status: str | None, course_status: str
) -> tuple[bool, bool] | Refusal:
    """(may see the join link, may see the host's start link) of a channel member asking
    for a batch's sessions, or why they may not see them. Staff (`live.view_any`) see the
    join link, hosts (`live.host`) the start link too; a student of this batch sees the
    schedule, and the join link while the enrollment is active."""
    if view_any:
        return True, may_host
    if enrollment_status is not None:
        return enrollment_status == "active", False
    if course_status != "published":
        return Refusal.NOT_FOUND
    return Refusal.FORBIDDEN


def session_out(row: dict[str, Any], *, join: bool, staff: bool) -> dict[str, Any]:
    """A session as answered: the join link only to who may see it, and only while the class
    is not cancelled (a cancelled meeting no longer exists at the provider); the provider's
    ids to staff. Never the host's start link: that is fetched fresh from the provider by
    `.../start`, for the session's instructor, owners and admins only (issue 11)."""
    live = row["status"] != "cancelled"
    lesson = row.get("recording_lesson_id")
    return {
        "id": str(row["id"]),
        "batch_id": str(row["batch_id"]),
        "title": row["title"],
        "starts_at": row["starts_at"],
        "duration_minutes": row["duration_minutes"],
        "provider": row["provider"],
        "status": row["status"],
        "join_url": row["join_url"] if join and live else None,
        "provider_meeting_id": str(row["provider_meeting_id"]) if staff else None,
        "provider_account_id": row.get("provider_account_id") if staff else None,
        "recording_lesson_id": str(lesson) if lesson else None,
        "created_at": row["created_at"],
    }


def meeting_agenda(batch_name: str, intent_id: str) -> str:
    """The agenda of a class's Zoom meeting. It carries the intent id, the one thing of ours
    a meeting can be found by when a crash lost Zoom's answer (the live sweeper)."""
    return f"Live class of {batch_name}\n\nref: {intent_id}"


def made_for_intent(meeting: dict[str, Any], intent_id: str) -> bool:
    return f"ref: {intent_id}" in str(meeting.get("agenda") or "")


def starts_in_the_past(starts_at: datetime | None, now: datetime) -> bool:
    """Whether a requested start is earlier than `now` by more than the grace."""
    return starts_at is not None and starts_at < now - PAST_GRACE


def reschedule_changes(current: dict[str, Any], requested: dict[str, Any]) -> dict[str, Any]:
    """The requested fields (None: not sent) that differ from the session's current values."""
    return {k: v for k, v in requested.items() if v is not None and v != current[k]}


def audit_details(payload: dict[str, Any]) -> dict[str, Any]:
    """What a live-session event's audit row keeps of its payload: never a link (join and
    start links are credentials of a sort, read from the table by who may)."""
    return {k: v for k, v in payload.items() if k in ("batch_id", "provider", "starts_at")}
