"""Issuance (consumer certificate_issuer of `course.completed`).

Exactly once per student and course: the row is unique on (channel, course, user) and inserted
with ON CONFLICT DO NOTHING, in the transaction that records the event as processed
(`first_delivery`), so duplicate and concurrent deliveries of one event, and distinct completion
events of the same course, make one certificate and one `certificate.issued` event. A code
collision (60 random bits) retries with a new code inside a savepoint. The holder's name, the
course's title and the salted hash of the holder's email are copied as they are at issue.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC
from typing import Any
from uuid import UUID

from shared.certificates import batch_rule, rules
from shared.platform import audit
from shared.platform.config import settings
from shared.platform.consumers import first_delivery
from shared.platform.db import Tx, transaction
from shared.platform.ids import uuid7
from shared.platform.outbox import publishing_after_commit

log = logging.getLogger("certificates")
CONSUMER = "certificate_issuer"
_CODE_ATTEMPTS = 5
RENDER_QUEUE = "certificate-renders"
RENDERER = "certificate_renderer"

_HOLDER_SQL = """
SELECT u.email, u.display_name, c.title, c.description
  FROM users u, courses c
 WHERE u.id = :u AND c.id = :c AND c.channel_id = app_channel_id()
"""

_INSERT_SQL = """
INSERT INTO certificates (id, channel_id, course_id, user_id, enrollment_id, code, holder_name,
                          course_title, course_description, subject_hash, subject_salt,
                          status_index)
VALUES (:id, app_channel_id(), :c, :u, :e, :code, :holder, :title, :descr, :hash, :salt, :si)
ON CONFLICT (channel_id, course_id, user_id) DO NOTHING
RETURNING id, code, issued_at
"""


def on_course_completed(*, envelope: Any, attributes: Mapping[str, str]) -> str:
    """Entry for certificate_issuer, given its Pub/Sub push decoded (shared.web envelopes).
    Returns what happened: issued, exists, duplicate, skipped or malformed."""
    if isinstance(envelope, dict) and envelope.get("type") == rules.SESSION_ENDED:
        return on_session_ended(envelope=envelope, attributes=attributes)
    parsed = rules.parse_completed(envelope)
    if isinstance(parsed, str):
        log.warning("malformed course.completed event dropped: %s", parsed)
        return "malformed"
    event_id, channel_id, user_id, course_id, enrollment_id = parsed
    if attributes.get("channel_id") not in (None, channel_id):
        log.warning("event %s: attribute and body name different channels; dropped", event_id)
        return "malformed"
    with publishing_after_commit():
        outcome = issue(
            event_id=event_id,
            channel_id=channel_id,
            user_id=user_id,
            course_id=course_id,
            enrollment_id=enrollment_id,
        )
    log.info("course.completed %s: %s", event_id, outcome)
    if outcome in ("issued", "exists", "duplicate"):
        queue_pending_render(channel_id=channel_id, course_id=course_id, user_id=user_id)
    return outcome


def queue_pending_render(*, channel_id: str, course_id: str, user_id: str) -> None:
    """Queue the PDF of the student's certificate unless it is rendered. After the commit, and
    again on every redelivery (a duplicate too): if queueing failed, this raises, Pub/Sub
    redelivers, and the redelivery queues it; the task name makes a second queueing a no-op."""
    with transaction(channel_id=channel_id) as tx:
        cert_id = tx.scalar(
            "SELECT id FROM certificates WHERE channel_id = app_channel_id()"
            " AND course_id = :c AND user_id = :u AND pdf_object IS NULL",
            c=course_id,
            u=user_id,
        )
    if cert_id is not None:
        queue_render(channel_id, str(cert_id))


def queue_render(channel_id: str, certificate_id: str) -> bool:
    """Queue the certificate's render (worker certificate_renderer); False if it was queued
    before (the task name is the certificate's). Raises when Cloud Tasks is unavailable."""
    from shared.adapters import tasks

    return tasks.enqueue(
        queue=RENDER_QUEUE,
        function=RENDERER,
        payload={"channel_id": channel_id, "certificate_id": certificate_id},
        task_id=f"crt-{certificate_id}",
    )


def issue(
    *, event_id: str, channel_id: str, user_id: str, course_id: str, enrollment_id: str | None
) -> str:
    """Issue the certificate of one completion, once."""
    with transaction(channel_id=channel_id) as tx:
        if not first_delivery(tx, consumer=CONSUMER, event_id=event_id):
            return "duplicate"
        holder = tx.one(_HOLDER_SQL, u=user_id, c=course_id)
        if holder is None:
            log.warning("event %s: no such user or course in channel %s", event_id, channel_id)
            return "skipped"
        if not _batch_rule_holds(tx, channel_id=channel_id, course_id=course_id, user_id=user_id):
            return "pending"
        status_index = _next_status_index(tx, course_id=course_id, user_id=user_id)
        if status_index is None:
            return "exists"
        row = _insert(
            tx,
            holder,
            course_id=course_id,
            user_id=user_id,
            enrollment=enrollment_id,
            status_index=status_index,
        )
        if row is None:
            return "exists"
        tx.exec(
            "UPDATE certificate_status_lists SET next_index = next_index + 1"
            " WHERE channel_id = app_channel_id()"
        )
        payload = {
            "certificate_id": str(row["id"]),
            "code": row["code"],
            "user_id": user_id,
            "course_id": course_id,
            "issued_at": row["issued_at"].astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "verify_url": rules.verify_url(row["code"], base_url=settings().public_base_url),
        }
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=None,
            action=rules.CERTIFICATE_ISSUED,
            target_type="certificate",
            target_id=str(row["id"]),
            payload=payload,
            details={"course_id": course_id, "user_id": user_id},
        )
        return "issued"


def _batch_rule_holds(tx: Tx, *, channel_id: str, course_id: str, user_id: str) -> bool:
    """For a student of a batch, the channel's rule: every lesson (the course completed) and
    a live attendance rate at least the channel's threshold, once attendance exists (a batch
    whose live classes have not ended yet has no rate, and lessons alone decide)."""
    batch_id = tx.scalar(
        "SELECT batch_id FROM enrollments WHERE channel_id = app_channel_id()"
        " AND course_id = :c AND user_id = :u",
        c=course_id,
        u=user_id,
    )
    if batch_id is None:
        return True
    rate = attendance_rate(channel_id, str(batch_id), user_id)
    return rate is None or rate >= batch_rule.attendance_threshold(tx)


def attendance_rate(channel_id: str, batch_id: str, user_id: str) -> float | None:
    """The student's live attendance rate in the batch (shared.live), None when no live
    class of the batch has ended."""
    from shared import live

    return live.student_attendance_rate(UUID(channel_id), UUID(batch_id), UUID(user_id))


def on_session_ended(*, envelope: dict[str, Any], attributes: Mapping[str, str]) -> str:
    """A live class of a batch ended, so attendance rates changed: issue the certificates of
    the batch's students who completed every lesson and now meet the rule. Each student's
    issuance is its own delivery (event id + student), so redeliveries issue nothing twice."""
    event_id, channel_id, data = (
        envelope.get("id"),
        envelope.get("channel_id"),
        envelope.get("data"),
    )
    if not (
        isinstance(event_id, str)
        and 0 < len(event_id) <= 60
        and rules.is_uuid(channel_id)
        and isinstance(data, dict)
        and rules.is_uuid(data.get("batch_id"))
        and attributes.get("channel_id") in (None, channel_id)
    ):
        log.warning("malformed %s event dropped", rules.SESSION_ENDED)
        return "malformed"
    assert isinstance(channel_id, str)
    with transaction(channel_id=channel_id) as tx:
        waiting = tx.all(
            "SELECT e.id, e.user_id, e.course_id FROM enrollments e"
            " WHERE e.channel_id = app_channel_id() AND e.batch_id = :b"
            "   AND e.completed_at IS NOT NULL AND NOT EXISTS ("
            "       SELECT 1 FROM certificates z WHERE z.channel_id = e.channel_id"
            "          AND z.course_id = e.course_id AND z.user_id = e.user_id)",
            b=data["batch_id"],
        )
    issued = 0
    for w in waiting:
        user_id, course_id = str(w["user_id"]), str(w["course_id"])
        with publishing_after_commit():
            outcome = issue(
                event_id=f"{event_id}:{user_id}",
                channel_id=channel_id,
                user_id=user_id,
                course_id=course_id,
                enrollment_id=str(w["id"]),
            )
        if outcome == "issued":
            issued += 1
            queue_pending_render(channel_id=channel_id, course_id=course_id, user_id=user_id)
    log.info("%s %s: %d certificate(s) issued", rules.SESSION_ENDED, event_id, issued)
    return f"issued {issued}"


def _next_status_index(tx: Tx, *, course_id: str, user_id: str) -> int | None:
    """The next free position in the channel's status list, its counter locked until commit
    (issuances in one channel take turns, so no position is shared); None if the student
    already holds the certificate, so no position is spent on a duplicate."""
    tx.exec(
        "INSERT INTO certificate_status_lists (channel_id) VALUES (app_channel_id())"
        " ON CONFLICT (channel_id) DO NOTHING"
    )
    index = tx.scalar(
        "SELECT next_index FROM certificate_status_lists"
        " WHERE channel_id = app_channel_id() FOR UPDATE"
    )
    held = tx.scalar(
        "SELECT 1 FROM certificates WHERE channel_id = app_channel_id()"
        " AND course_id = :c AND user_id = :u",
        c=course_id,
        u=user_id,
    )
    return None if held else int(index)


def _insert(
    tx: Tx,
    holder: Mapping[str, Any],
    *,
    course_id: str,
    user_id: str,
    enrollment: str | None,
    status_index: int,
) -> dict[str, Any] | None:
    """Insert the certificate; None if the student already holds one for the course."""
    salt = rules.new_salt()
    for attempt in range(_CODE_ATTEMPTS):
        tx.exec("SAVEPOINT certificate_code")
        try:
            row = tx.one(
                _INSERT_SQL,
                id=uuid7(),
                c=course_id,
                u=user_id,
                e=enrollment,
                code=rules.new_code(),
                holder=holder["display_name"],
                title=holder["title"],
                descr=holder["description"] or "",
                hash=rules.identity_hash(holder["email"], salt),
                salt=salt,
                si=status_index,
            )
        except Exception as err:  # a code collision (unique violation); anything else re-raises
            tx.exec("ROLLBACK TO SAVEPOINT certificate_code")
            if "certificates_code_key" not in str(err) or attempt == _CODE_ATTEMPTS - 1:
                raise
            continue
        tx.exec("RELEASE SAVEPOINT certificate_code")
        return row
    return None  # unreachable: the last attempt returns or raises
