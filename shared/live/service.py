"""Live classes of a batch (cohort): scheduled at the live provider (Zoom), listed to the batch.

Who may do what:
- schedule and cancel: `batch.write` (instructor and above); a non-member gets 404, a weaker
  role 403, as for the other batch writes;
- see the sessions: staff (`live.view_any`) and students whose enrollment is in this batch;
  the join link only to staff and students whose enrollment is active; the provider's ids to
  staff. Another member of the channel gets 403 (404 when the batch's course is not visible
  to them), a non-member 404;
- the host's start link (it carries the host's ZAK: whoever has it can run, end and record
  the meeting) is never stored: `start_session` fetches it fresh from Zoom for the session's
  instructor (its creator) and the channel's owners and admins only;
- meetings are created under the channel's own connected Zoom account
  (shared/live/zoom_accounts.py); without one, scheduling is 409.

Every write is audit-logged and emits an outbox event (`live_session.scheduled` /
`live_session.cancelled`) in the transaction that stores it. Events and the audit log carry
no links: join and start links are credentials of a sort, read from the table by who may.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Protocol

from shared.catalog import require_writable
from shared.catalog.schemas import LiveSessionIn, LiveSessionPatch
from shared.channels import allows, check_channel_id, require, role_of
from shared.live.rules import (
    Refusal,
    audit_details,
    meeting_agenda,
    reschedule_changes,
    session_out,
    starts_in_the_past,
    viewer_links,
)
from shared.live.zoom_accounts import NOT_CONNECTED, NotConnected, connected_account, meetings_of
from shared.live.zoom_rules import may_start
from shared.platform import audit
from shared.platform.db import Tx, transaction
from shared.platform.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.platform.ids import is_uuid, uuid7
from shared.platform.pagination import decode_cursor, page

_SESSION = (
    "id, batch_id, title, starts_at, duration_minutes, provider, provider_meeting_id,"
    " provider_account_id, join_url, status, recording_lesson_id, created_by, created_at"
)


class LiveProvider(Protocol):
    """What a live-class provider adapter offers (Zoom first; shared/adapters/zoom.py)."""

    name: str

    def create_meeting(
        self, *, topic: str, start_time: datetime, duration_minutes: int, agenda: str = ""
    ) -> dict[str, Any]: ...

    def update_meeting(
        self,
        meeting_id: str,
        *,
        topic: str | None = None,
        start_time: datetime | None = None,
        duration_minutes: int | None = None,
    ) -> bool: ...

    def delete_meeting(self, meeting_id: str) -> bool: ...

    def get_meeting(self, meeting_id: str) -> dict[str, Any] | None: ...

    def list_meetings(self) -> list[dict[str, Any]]: ...


def provider(channel_id: str, name: str = "zoom") -> LiveProvider:
    """The channel's own account at the provider (NotConnected: 409 when it has none)."""
    if name != "zoom":
        raise NotFound(f"Unknown live provider {name!r}.")
    result: LiveProvider = meetings_of(channel_id)
    return result


def _same_account(tx: Tx, row: dict[str, Any]) -> bool:
    """Whether the session's meeting lives under the account the channel has connected now
    (a channel that reconnected another account cannot reach its older meetings)."""
    account = connected_account(tx)
    return account is not None and account == row["provider_account_id"]


# -- shaping and lookups ------------------------------------------------------------------
def _batch(tx: Tx, batch_id: str) -> dict[str, Any]:
    row = tx.one(
        "SELECT b.id, b.course_id, b.name, c.status AS course_status"
        " FROM batches b JOIN courses c ON c.id = b.course_id"
        " WHERE b.id = :id AND b.channel_id = app_channel_id()",
        id=batch_id if is_uuid(batch_id) else None,
    )
    if row is None:
        raise NotFound("No such batch.")
    return row


def _session(tx: Tx, batch_id: str, session_id: str) -> dict[str, Any]:
    if not is_uuid(session_id):
        raise NotFound("No such live session.")
    row = tx.one(
        f"SELECT {_SESSION} FROM live_sessions WHERE id = :id AND batch_id = :b"
        " AND channel_id = app_channel_id()",
        id=session_id,
        b=batch_id,
    )
    if row is None:
        raise NotFound("No such live session.")
    return row


def _viewer(tx: Tx, user_id: str, batch_id: str) -> tuple[bool, bool]:
    """(may see the join link, is staff) of a caller allowed to see the batch's sessions;
    NotFound / Forbidden for everyone else."""
    role = role_of(tx, user_id)
    if role is None:
        raise NotFound("No such channel.")
    batch = _batch(tx, batch_id)
    view_any = allows(role, "live.view_any")
    status = (
        None
        if view_any
        else tx.scalar(
            "SELECT status FROM enrollments WHERE batch_id = :b AND user_id = :u"
            " AND channel_id = app_channel_id()",
            b=batch_id,
            u=user_id,
        )
    )
    links = viewer_links(
        view_any=view_any,
        may_host=allows(role, "live.host"),
        enrollment_status=status,  # of this batch; an ended enrollment still sees the schedule
        course_status=batch["course_status"],
    )
    if links is Refusal.NOT_FOUND:
        raise NotFound("No such batch.")
    if links is Refusal.FORBIDDEN:
        raise Forbidden("Only students of this batch and staff see its live classes.")
    return links[0], view_any


# -- use cases ----------------------------------------------------------------------------
def schedule_session(
    *, channel_id: str, user_id: str, batch_id: str, data: LiveSessionIn
) -> dict[str, Any]:
    """Create the meeting under the channel's Zoom account, then store the session.

    Zoom's create takes no idempotency key, so the order is: (1) commit an intent row naming
    the account; (2) create the meeting with the intent id in its agenda; (3) in one
    transaction insert the session (+ audit + outbox) and delete the intent. A provider failure
    in (2) leaves only the intent; an insert failing in (3) deletes the meeting again; a
    process that dies between (2) and (3) leaves the intent, and the live sweeper later finds
    the meeting by its agenda and deletes it (sweep_orphan_meetings). A retried POST with the
    same Idempotency-Key never reaches this function twice: the toolkit reserves the key
    before the handler runs, and forgets it when we fail, so the retry may create.
    """
    check_channel_id(channel_id)
    _not_in_the_past(data.starts_at)
    intent_id = uuid7()
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        require(tx, user_id, "batch.write")
        batch = _batch(tx, batch_id)
        require_writable(batch["course_status"])
        account_id = connected_account(tx)
        if account_id is None:
            raise NotConnected(NOT_CONNECTED)
        tx.exec(
            "INSERT INTO live_meeting_intents (id, channel_id, account_id)"
            " VALUES (:id, app_channel_id(), :a)",
            id=intent_id,
            a=account_id,
        )
    live = provider(channel_id)
    meeting = live.create_meeting(
        topic=data.title,
        start_time=data.starts_at,
        duration_minutes=data.duration_minutes,
        agenda=meeting_agenda(batch["name"], intent_id),
    )
    meeting_id = str(meeting["id"])
    try:
        with transaction(channel_id=channel_id, user_id=user_id) as tx:
            require(tx, user_id, "batch.write")  # the role may have changed meanwhile
            _batch(tx, batch_id)
            row = tx.one(
                f"INSERT INTO live_sessions (id, channel_id, batch_id, title, starts_at,"
                f" duration_minutes, provider, provider_meeting_id, provider_account_id,"
                f" join_url, created_by) VALUES (:id, app_channel_id(), :b, :t, :s, :d, :p, :m,"
                f" :a, :j, :u) RETURNING {_SESSION}",
                id=uuid7(),
                b=batch_id,
                t=data.title,
                s=data.starts_at,
                d=data.duration_minutes,
                p=live.name,
                m=meeting_id,
                a=account_id,
                j=meeting["join_url"],
                u=user_id,
            )
            assert row is not None  # INSERT ... RETURNING answers the row it wrote
            tx.exec("DELETE FROM live_meeting_intents WHERE id = :i", i=intent_id)
            sid = str(row["id"])
            payload = {
                "session_id": sid,
                "batch_id": batch_id,
                "course_id": str(batch["course_id"]),
                "provider": live.name,
                "provider_meeting_id": meeting_id,
                "provider_account_id": account_id,
                "starts_at": row["starts_at"].isoformat(),
                "duration_minutes": data.duration_minutes,
            }
            audit.record_change(
                tx,
                channel_id=channel_id,
                actor_user_id=user_id,
                action="live_session.scheduled",
                target_type="live_session",
                target_id=sid,
                payload=payload,
                details=audit_details(payload),
            )
    except BaseException:
        _delete_orphan(live, meeting_id)
        raise
    return session_out(row, join=True, staff=True)


def _delete_orphan(live: LiveProvider, meeting_id: str) -> None:
    """Best effort: the insert failed, so no one will ever see this meeting's links (the
    intent row stays when this fails too, and the sweeper tries again)."""
    try:
        live.delete_meeting(meeting_id)
    except Exception:
        logging.getLogger("live_sessions").warning(
            "could not delete orphan %s meeting %s", live.name, meeting_id, exc_info=True
        )


def _after(cursor: str | None) -> tuple[datetime | None, str | None]:
    after = decode_cursor(cursor)
    if after is None:
        return None, None
    try:
        at = datetime.fromisoformat(str(after["t"]).replace("Z", "+00:00"))
        sid = after["id"]
        if not is_uuid(sid) or at.tzinfo is None:
            raise ValueError
    except (KeyError, ValueError, TypeError) as e:
        raise Unprocessable(
            "Invalid cursor.", errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}]
        ) from e
    return at, sid


def list_sessions(
    *, channel_id: str, user_id: str, batch_id: str, limit: int, cursor: str | None
) -> dict[str, Any]:
    """The batch's sessions in schedule order (cancelled ones included, marked)."""
    after_t, after_id = _after(cursor)
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        join, staff = _viewer(tx, user_id, batch_id)
        rows = tx.all(
            f"SELECT {_SESSION} FROM live_sessions WHERE batch_id = :b"
            " AND channel_id = app_channel_id()"
            " AND (CAST(:after_id AS uuid) IS NULL"
            "      OR (starts_at, id) > (CAST(:after_t AS timestamptz), CAST(:after_id AS uuid)))"
            " ORDER BY starts_at, id LIMIT :n",
            b=batch_id,
            after_t=after_t,
            after_id=after_id,
            n=limit + 1,
        )
    items = [session_out(r, join=join, staff=staff) for r in rows]
    return page(items, limit, lambda s: {"t": s["starts_at"], "id": s["id"]})


def get_session(*, channel_id: str, user_id: str, batch_id: str, session_id: str) -> dict[str, Any]:
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        join, staff = _viewer(tx, user_id, batch_id)
        row = _session(tx, batch_id, session_id)
    return session_out(row, join=join, staff=staff)


def start_session(
    *, channel_id: str, user_id: str, batch_id: str, session_id: str
) -> dict[str, str]:
    """The host's start link, fetched fresh from Zoom (it embeds a short-lived ZAK), for the
    session's instructor, owners and admins only; never stored, never in the idempotency
    store (the route is not idempotent-keyed). Another channel's member: 404; a member who
    may not host this class: 403; a cancelled class or a meeting Zoom no longer has: 409."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        role = role_of(tx, user_id)
        if role is None:
            raise NotFound("No such channel.")
        _batch(tx, batch_id)
        row = _session(tx, batch_id, session_id)
        if not may_start(role=role, user_id=user_id, created_by=str(row["created_by"])):
            if not allows(role, "live.view_any"):
                raise NotFound("No such live session.")
            raise Forbidden("Only the class's instructor, owners and admins may start it.")
        if row["status"] == "cancelled":
            raise Conflict("This live class is cancelled.")
        if not _same_account(tx, row):
            raise NotConnected(
                "The Zoom account this class was scheduled under is no longer connected to "
                "the channel; connect it again to start the class."
            )
    meeting = provider(channel_id, row["provider"]).get_meeting(row["provider_meeting_id"])
    if meeting is None or not meeting.get("start_url"):
        raise Conflict(
            "The meeting no longer exists at the live provider; cancel this class and "
            "schedule a new one."
        )
    return {"start_url": str(meeting["start_url"])}


def join_session(
    *, channel_id: str, user_id: str, batch_id: str, session_id: str
) -> dict[str, str]:
    """The join link for an active student of the batch or staff, recording the intent
    (who asked, when, how often). Others: 403 (404 outside the channel)."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        join, _staff = _viewer(tx, user_id, batch_id)
        row = _session(tx, batch_id, session_id)
        if not join:
            raise Forbidden("Only active students of this batch and staff may join its classes.")
        if row["status"] == "cancelled":
            raise Conflict("This live class is cancelled.")
        tx.exec(
            "INSERT INTO live_session_join_requests (channel_id, session_id, user_id)"
            " VALUES (app_channel_id(), :s, :u) ON CONFLICT (session_id, user_id) DO UPDATE"
            " SET last_requested_at = now(),"
            " requests = live_session_join_requests.requests + 1",
            s=session_id,
            u=user_id,
        )
    return {"join_url": str(row["join_url"])}


def _not_in_the_past(starts_at: datetime | None) -> None:
    if starts_in_the_past(starts_at, datetime.now(UTC)):
        raise Unprocessable(
            "A live class cannot start in the past.",
            errors=[{"loc": ["body", "starts_at"], "msg": "must not be in the past"}],
        )


def reschedule_session(
    *, channel_id: str, user_id: str, batch_id: str, session_id: str, data: LiveSessionPatch
) -> dict[str, Any]:
    """Change a scheduled class's title, start or length: at the provider, then here.

    Provider first, as for cancelling: if Zoom fails nothing changed here; if storing fails
    after Zoom changed, the client's retry sends the same change again (a PATCH is
    idempotent) and both agree. A meeting Zoom no longer has is 409: cancel and schedule anew.
    """
    _not_in_the_past(data.starts_at)
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "batch.write")
        _batch(tx, batch_id)
        row = _session(tx, batch_id, session_id)
    if row["status"] != "scheduled":
        raise Conflict("This live class is cancelled.")
    changes: dict[str, Any] = {
        "title": data.title,
        "starts_at": data.starts_at,
        "duration_minutes": data.duration_minutes,
    }
    changes = reschedule_changes(row, changes)
    if not changes:
        return session_out(row, join=True, staff=True)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        if not _same_account(tx, row):
            raise NotConnected(
                "The Zoom account this class was scheduled under is no longer connected to "
                "the channel; connect it again, or cancel the class and schedule a new one."
            )
    found = provider(channel_id, row["provider"]).update_meeting(
        row["provider_meeting_id"],
        topic=changes.get("title"),
        start_time=changes.get("starts_at"),
        duration_minutes=changes.get("duration_minutes"),
    )
    if not found:
        raise Conflict(
            "The meeting no longer exists at the live provider; cancel this class and "
            "schedule a new one."
        )
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        require(tx, user_id, "batch.write")
        updated = tx.one(
            f"UPDATE live_sessions SET title = coalesce(:t, title),"
            f" starts_at = coalesce(:s, starts_at),"
            f" duration_minutes = coalesce(:d, duration_minutes)"
            f" WHERE id = :id AND channel_id = app_channel_id() AND status = 'scheduled'"
            f" RETURNING {_SESSION}",
            t=changes.get("title"),
            s=changes.get("starts_at"),
            d=changes.get("duration_minutes"),
            id=session_id,
        )
        if updated is None:
            raise Conflict("This live class was cancelled meanwhile.")
        payload = {
            "session_id": session_id,
            "batch_id": batch_id,
            "provider": row["provider"],
            "provider_meeting_id": row["provider_meeting_id"],
            "starts_at": updated["starts_at"].isoformat(),
            "duration_minutes": updated["duration_minutes"],
            "was": {"starts_at": row["starts_at"].isoformat(), "title": row["title"]},
        }
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="live_session.rescheduled",
            target_type="live_session",
            target_id=session_id,
            payload=payload,
            details=audit_details(payload),
        )
    return session_out(updated, join=True, staff=True)


def cancel_session(*, channel_id: str, user_id: str, batch_id: str, session_id: str) -> None:
    """Delete the meeting at the provider, then mark the session cancelled.

    Provider first: if it fails, nothing changed here and the caller retries. If marking fails
    after the meeting is gone, the retry finds no meeting (the provider's 404 counts as deleted)
    and finishes. Cancelling a cancelled session changes nothing and answers the same.
    """
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "batch.write")
        _batch(tx, batch_id)
        row = _session(tx, batch_id, session_id)
    if row["status"] == "cancelled":
        return
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        reachable = _same_account(tx, row)
    if reachable:
        provider(channel_id, row["provider"]).delete_meeting(row["provider_meeting_id"])
    else:
        # The account was disconnected (its tokens are gone) or replaced: the meeting is the
        # account owner's to delete at Zoom; the class is cancelled here all the same.
        logging.getLogger("live_sessions").info(
            "cancelling session %s without its meeting: account not connected", session_id
        )
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        require(tx, user_id, "batch.write")
        done = tx.one(
            "UPDATE live_sessions SET status = 'cancelled', cancelled_at = now()"
            " WHERE id = :id AND channel_id = app_channel_id() AND status = 'scheduled'"
            " RETURNING starts_at",
            id=session_id,
        )
        if done is None:  # a concurrent cancel won; it recorded the event
            return
        payload = {
            "session_id": session_id,
            "batch_id": batch_id,
            "provider": row["provider"],
            "provider_meeting_id": row["provider_meeting_id"],
            "starts_at": done["starts_at"].isoformat(),
        }
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="live_session.cancelled",
            target_type="live_session",
            target_id=session_id,
            payload=payload,
            details=audit_details(payload),
        )
