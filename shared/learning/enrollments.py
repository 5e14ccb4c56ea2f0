"""Enrollment rules: the one place an enrollment is created or ended.

Both functions run inside the caller's tenant transaction (`transaction(channel_id=...)`), so
the learning function (free enrollment) and the Stripe webhook (paid enrollment) share the same
rules: the course must be published in this channel, a batch seat is taken with a conditional
UPDATE (no overbooking under concurrency), an active enrollment is never duplicated, and every
change writes an audit row and an outbox event with the data.

A raised DomainError must propagate out of the caller's `with transaction(...)` block so that
everything written so far (the enrollment row, a membership) rolls back with it.
"""

from __future__ import annotations

from typing import Literal

from shared.learning.rules import (
    EnrollmentSource,
    EnrollStep,
    Refusal,
    enroll_step,
    enrollment_refusal,
)
from shared.platform import audit
from shared.platform.db import Row, Tx
from shared.platform.errors import Conflict, DomainError, NotFound, PaymentRequired
from shared.platform.ids import is_uuid, uuid7

Source = Literal["free", "paid", "staff"]
SOURCES = tuple(s.value for s in EnrollmentSource)

_COLUMNS = (
    "id, channel_id, course_id, user_id, batch_id, status, source, ended_reason,"
    " created_at, ended_at, completed_at"
)


def _refused(refusal: Refusal, existing: Row | None = None) -> DomainError:
    """The answer to a refusal of the enrollment rules."""
    if refusal is Refusal.NO_COURSE:
        return NotFound("No such course.")
    if refusal is Refusal.CLOSED:
        return Conflict("This course is no longer open for enrollment.")
    if refusal is Refusal.PAYMENT_REQUIRED:
        return PaymentRequired(
            "This course is paid: start a checkout to enroll.", checkout_required=True
        )
    if existing is not None:
        return Conflict("Already enrolled in this course.", enrollment_id=str(existing["id"]))
    return Conflict("Already enrolled in this course.")


def create_enrollment(
    tx: Tx,
    *,
    course_id: str,
    user_id: str,
    batch_id: str | None = None,
    source: Source | EnrollmentSource,
    actor_user_id: str | None = None,
) -> Row:
    """Enroll `user_id` in a published course of the transaction's channel; return the row.

    404 unknown/unpublished course or batch of another course; 402 a `free` enrollment in a
    priced course; 409 already actively enrolled, course archived, or batch full. An ended
    enrollment is re-activated (same id). A user who is not yet a member of the channel
    becomes a `student` member: enrolling in a public course is how students join.
    """
    src = EnrollmentSource(source)  # ValueError: not a source
    if not is_uuid(str(course_id)):
        raise NotFound("No such course.")
    if batch_id is not None and not is_uuid(str(batch_id)):
        raise NotFound("No such batch.")
    course = tx.one(
        "SELECT id, channel_id, status, price_amount FROM courses"
        " WHERE id = :c AND channel_id = app_channel_id()",
        c=course_id,
    )
    refusal = enrollment_refusal(
        course["status"] if course else None,
        priced=course is not None and course["price_amount"] is not None,
        source=src,
    )
    if refusal is not None or course is None:
        raise _refused(refusal or Refusal.NO_COURSE)
    existing = tx.one(
        f"SELECT {_COLUMNS} FROM enrollments WHERE channel_id = app_channel_id()"
        " AND course_id = :c AND user_id = :u FOR UPDATE",
        c=course_id,
        u=user_id,
    )
    step = enroll_step(existing["status"] if existing else None)
    if isinstance(step, Refusal):
        raise _refused(step, existing)
    row = _write_enrollment(
        tx, step, existing, course_id=course_id, user_id=user_id, batch_id=batch_id, source=src
    )
    if batch_id is not None:
        _take_seat(tx, batch_id=batch_id, course_id=course_id)
    joined = _join_as_student(tx, user_id)
    payload = {
        "enrollment_id": str(row["id"]),
        "course_id": str(course_id),
        "user_id": str(user_id),
        "batch_id": str(batch_id) if batch_id else None,
        "source": src.value,
        "reactivated": step is EnrollStep.REACTIVATE,
    }
    audit.record_change(
        tx,
        channel_id=str(course["channel_id"]),
        actor_user_id=actor_user_id or user_id,
        action="enrollment.created",
        target_type="enrollment",
        target_id=str(row["id"]),
        payload=payload,
        details={**payload, "joined_as_student": joined},
    )
    return row


def _write_enrollment(
    tx: Tx,
    step: EnrollStep,
    existing: Row | None,
    *,
    course_id: str,
    user_id: str,
    batch_id: str | None,
    source: EnrollmentSource,
) -> Row:
    """The enrollment row, re-activated or inserted."""
    if step is EnrollStep.REACTIVATE and existing is not None:
        row = tx.one(
            "UPDATE enrollments SET status = 'active', source = :s, batch_id = :b,"
            " ended_at = NULL, ended_reason = NULL WHERE id = :id"
            f" RETURNING {_COLUMNS}",
            s=source.value,
            b=batch_id,
            id=existing["id"],
        )
    else:
        # A concurrent enrollment of the same user waits on the unique key, then sees it.
        row = tx.one(
            "INSERT INTO enrollments (id, channel_id, course_id, user_id, batch_id, source)"
            " VALUES (:id, app_channel_id(), :c, :u, :b, :s)"
            " ON CONFLICT (channel_id, course_id, user_id) DO NOTHING"
            f" RETURNING {_COLUMNS}",
            id=uuid7(),
            c=course_id,
            u=user_id,
            b=batch_id,
            s=source.value,
        )
    if row is None:
        raise _refused(Refusal.ALREADY_ENROLLED)
    return row


def _join_as_student(tx: Tx, user_id: str) -> bool:
    """Make the user a student member of the channel unless a member already; True if new."""
    joined = tx.one(
        "INSERT INTO memberships (channel_id, user_id, role) VALUES (app_channel_id(), :u,"
        " 'student') ON CONFLICT (channel_id, user_id) DO NOTHING RETURNING role",
        u=user_id,
    )
    return joined is not None


def _take_seat(tx: Tx, *, batch_id: str, course_id: str) -> None:
    """One seat of the batch, or 409. The WHERE is re-checked on the latest row version after
    a concurrent UPDATE commits, so two last-seat takers cannot both succeed."""
    taken = tx.exec(
        "UPDATE batches SET seats_taken = seats_taken + 1 WHERE id = :b AND course_id = :c"
        " AND channel_id = app_channel_id() AND (capacity IS NULL OR seats_taken < capacity)",
        b=batch_id,
        c=course_id,
    )
    if taken == 1:
        return
    exists = tx.scalar(
        "SELECT 1 FROM batches WHERE id = :b AND course_id = :c AND channel_id = app_channel_id()",
        b=batch_id,
        c=course_id,
    )
    if not exists:
        raise NotFound("No such batch for this course.")
    raise Conflict("batch full")


def end_enrollment(
    tx: Tx, *, enrollment_id: str, reason: str, actor_user_id: str | None = None
) -> bool:
    """End an active enrollment (refund, lost dispute, removal) and free its batch seat.

    Idempotent: False when it had already ended. 404 when there is no such enrollment in the
    transaction's channel.
    """
    if not is_uuid(str(enrollment_id)):
        raise NotFound("No such enrollment.")
    row = tx.one(
        "UPDATE enrollments SET status = 'ended', ended_at = now(), ended_reason = :r"
        " WHERE id = :id AND channel_id = app_channel_id() AND status = 'active'"
        f" RETURNING {_COLUMNS}",
        id=enrollment_id,
        r=reason,
    )
    if row is None:
        if (
            tx.scalar(
                "SELECT 1 FROM enrollments WHERE id = :id AND channel_id = app_channel_id()",
                id=enrollment_id,
            )
            is None
        ):
            raise NotFound("No such enrollment.")
        return False
    if row["batch_id"] is not None:
        tx.exec(
            "UPDATE batches SET seats_taken = seats_taken - 1 WHERE id = :b AND seats_taken > 0",
            b=row["batch_id"],
        )
    payload = {
        "enrollment_id": str(row["id"]),
        "course_id": str(row["course_id"]),
        "user_id": str(row["user_id"]),
        "reason": reason,
    }
    audit.record_change(
        tx,
        channel_id=str(row["channel_id"]),
        actor_user_id=actor_user_id,
        action="enrollment.ended",
        target_type="enrollment",
        target_id=str(row["id"]),
        payload=payload,
        details=payload,
    )
    return True
