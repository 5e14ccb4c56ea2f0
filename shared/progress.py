"""Watch progress: heartbeats, explicit completion of text lessons, course progress.

The heartbeat is the hottest write of the platform, so it is ONE round trip: a single call of
the SQL function record_heartbeat() (shared/migrations/0018_heartbeat_fn.sql) in autocommit
mode (shared.db.call). Inside its own implicit transaction the function sets the tenant
context (transaction-local), checks access with the rule of shared.learning.authorize_viewer,
swaps the session's last heartbeat (row lock, server clock), computes the credited interval
with the rule of shared.domain.watch.credited_interval, records the analytics event, merges
the interval into the student's nummultirange under the row lock (no read-modify-write from
Python) and flips completion at shared.domain.watch.completion_threshold. The numbers of those
rules (MAX_PLAYBACK_RATE, COMPLETION_RATIO) and the staff roles are passed in from Python, their
single source; tests/integration/test_heartbeat_sql.py holds the SQL to the Python model.

Completion events are the slow, rare path and stay here (`_lesson_completed`, a normal
transaction): outbox `lesson.completed` and, once every lesson is complete, `course.completed`
exactly once. Exactly-once and crash safety rest on `lesson_progress.completion_emitted`:
the function reports `completion_pending` (completed, flag not set) and the Python transaction
claims the flag (`UPDATE ... WHERE NOT completion_emitted`) together with writing the events.
Two beats that both see the completion pending serialize on that row; only one claims it. If
the process dies after the function committed the completion but before the events did, the
flag is still false and the next heartbeat that merges into the lesson reports it pending
again; meanwhile the course check of any other lesson already counts the lesson complete
(it reads `completed_at`), so a course cannot miss its completion because of it.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from shared import analytics_events, db, outbox
from shared.access import check_channel_id
from shared.db import Tx, transaction
from shared.domain.watch import COMPLETION_RATIO, MAX_PLAYBACK_RATE, course_percent
from shared.errors import Conflict, Forbidden, NotFound
from shared.ids import is_uuid
from shared.learning import STAFF_ROLES, authorize_viewer, lesson_access

HEARTBEAT_SQL = (
    "SELECT * FROM record_heartbeat(:c, :u, :l, :s, :pos, :pl, :rate, :ratio,"
    " CAST(:staff AS text[]), :now)"
)
STAFF_ROLES_LITERAL = "{" + ",".join(STAFF_ROLES) + "}"  # a text[] literal, built once

# The function's refusals, as the same errors authorize_viewer and the old path raised.
HEARTBEAT_REFUSALS = {
    "no_channel": lambda: NotFound("No such channel."),
    "no_lesson": lambda: NotFound("No such lesson."),
    "not_enrolled": lambda: Forbidden("Enroll in this course first."),
    "no_video": lambda: Conflict("This lesson has no playable video."),
}


def record_heartbeat(
    *,
    channel_id: str,
    lesson_id: str,
    user_id: str,
    session_id: str,
    position: float,
    playing: bool,
    now: Any = None,
) -> dict[str, Any]:
    """Apply one player heartbeat; returns what it credited (the route answers 204).

    `now` simulates the server clock (tests only); production leaves it None.
    """
    check_channel_id(channel_id)
    row = db.call(
        HEARTBEAT_SQL,
        c=channel_id,
        u=user_id,
        l=lesson_id if is_uuid(lesson_id) else None,
        s=session_id,
        pos=position,
        pl=playing,
        rate=MAX_PLAYBACK_RATE,
        ratio=COMPLETION_RATIO,
        staff=STAFF_ROLES_LITERAL,
        now=now,
    )[0]
    refused = HEARTBEAT_REFUSALS.get(row["status"])
    if refused is not None:
        raise refused()
    completed_now = False
    if row["completion_pending"]:
        with transaction(channel_id=channel_id, user_id=user_id) as tx:
            completed_now = (
                _lesson_completed(
                    tx,
                    channel_id=channel_id,
                    user_id=user_id,
                    lesson_id=lesson_id,
                    course_id=str(row["course_id"]),
                )
                is not None
            )
    watched = row["watched_seconds"]
    return {
        "credited_seconds": float(row["credited"]),
        "lesson_completed_now": completed_now,
        "watched_seconds": float(watched) if watched is not None else None,
    }


def complete_lesson(*, channel_id: str, lesson_id: str, user_id: str) -> dict[str, Any]:
    """Mark a text (or live) lesson complete; idempotent. Video lessons complete by watching."""
    check_channel_id(channel_id)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        row = lesson_access(tx, lesson_id=lesson_id, user_id=user_id)
        if row["kind"] == "video":
            raise Conflict("Video lessons complete from watch time, not explicitly.")
        done = tx.one(
            "INSERT INTO lesson_progress AS lp (channel_id, user_id, lesson_id, course_id,"
            " completed_at, completed_by) VALUES (app_channel_id(), :u, :l, :c, now(), 'explicit')"
            " ON CONFLICT (user_id, lesson_id) DO UPDATE SET"
            " completed_at = coalesce(lp.completed_at, now()),"
            " completed_by = coalesce(lp.completed_by, 'explicit'), updated_at = now()"
            " RETURNING lp.completed_at, lp.completed_at = now() AS completed_now",
            u=user_id,
            l=lesson_id,
            c=row["course_id"],
        )
        course_done = False
        if done["completed_now"]:
            course_done = bool(
                _lesson_completed(
                    tx,
                    channel_id=channel_id,
                    user_id=user_id,
                    lesson_id=lesson_id,
                    course_id=str(row["course_id"]),
                )
            )
        if not course_done and row["enrollment_id"] is not None:
            course_done = (
                tx.scalar(
                    "SELECT completed_at IS NOT NULL FROM enrollments WHERE id = :e",
                    e=row["enrollment_id"],
                )
                or False
            )
    return {
        "lesson_id": lesson_id,
        "completed": True,
        "completed_at": done["completed_at"],
        "course_completed": bool(course_done),
    }


def _lesson_completed(
    tx: Tx, *, channel_id: str, user_id: str, lesson_id: str, course_id: str
) -> bool | None:
    """A lesson is complete: claim its events, write them, then the course if it was the last.

    Returns None when the lesson's events were already emitted (someone else claimed
    `completion_emitted`), else whether this completed the course. The claim locks the
    progress row, so concurrent callers for one lesson serialize and one wins. The enrollment
    row is locked before lessons are counted, so two lessons completing at once in two
    transactions serialize there and the later one sees the earlier one's commit: the course
    completes exactly once.
    """
    how = tx.scalar(
        "UPDATE lesson_progress SET completion_emitted = true WHERE user_id = :u"
        " AND lesson_id = :l AND completed_at IS NOT NULL AND NOT completion_emitted"
        " RETURNING completed_by",
        u=user_id,
        l=lesson_id,
    )
    if how is None:
        return None
    payload = {"user_id": user_id, "lesson_id": lesson_id, "course_id": course_id, "how": how}
    outbox.add(tx, channel_id=channel_id, event_type="lesson.completed", payload=payload)
    analytics_events.record(tx, event_type="lesson.completed", user_id=user_id, metadata=payload)
    enrollment = tx.one(
        "SELECT id, completed_at FROM enrollments WHERE channel_id = app_channel_id()"
        " AND course_id = :c AND user_id = :u AND status = 'active' FOR UPDATE",
        c=course_id,
        u=user_id,
    )
    if enrollment is None or enrollment["completed_at"] is not None:
        return False  # staff previewing, or completed before
    missing = tx.scalar(
        "SELECT count(*) FILTER (WHERE p.completed_at IS NULL) FROM lessons l"
        " LEFT JOIN lesson_progress p ON p.user_id = :u AND p.lesson_id = l.id"
        " WHERE l.course_id = :c AND l.channel_id = app_channel_id()",
        u=user_id,
        c=course_id,
    )
    if missing:
        return False
    completed_at = tx.scalar(
        "UPDATE enrollments SET completed_at = now() WHERE id = :e AND completed_at IS NULL"
        " RETURNING completed_at",
        e=enrollment["id"],
    )
    if completed_at is None:
        return False
    done = {
        "enrollment_id": str(enrollment["id"]),
        "user_id": user_id,
        "course_id": course_id,
        "completed_at": completed_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    outbox.add(tx, channel_id=channel_id, event_type="course.completed", payload=done)
    analytics_events.record(tx, event_type="course.completed", user_id=user_id, metadata=done)
    return True


COURSE_ACCESS_SQL = """
SELECT c.id AS course_id, c.status AS course_status, m.role, e.id AS enrollment_id,
       e.completed_at
  FROM (SELECT 1) AS one
  LEFT JOIN memberships m ON m.channel_id = app_channel_id() AND m.user_id = :u
  LEFT JOIN courses c ON c.id = :c AND c.channel_id = app_channel_id()
  LEFT JOIN enrollments e ON e.channel_id = app_channel_id() AND e.course_id = c.id
        AND e.user_id = :u AND e.status = 'active'
"""


def course_progress(*, channel_id: str, course_id: str, user_id: str) -> dict[str, Any]:
    """The caller's progress through a course they are enrolled in (or staff of)."""
    check_channel_id(channel_id)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        access = tx.one(COURSE_ACCESS_SQL, u=user_id, c=course_id if is_uuid(course_id) else None)
        access = authorize_viewer(access, what="course")
        lessons = tx.all(
            "SELECT l.id AS lesson_id, p.completed_at, coalesce(p.watched_seconds, 0) AS ws"
            " FROM lessons l LEFT JOIN lesson_progress p ON p.user_id = :u AND p.lesson_id = l.id"
            " WHERE l.course_id = :c AND l.channel_id = app_channel_id() ORDER BY l.position",
            u=user_id,
            c=course_id,
        )
    if access is None:  # pragma: no cover - authorize_viewer raised
        raise NotFound("No such course.")
    done = sum(1 for r in lessons if r["completed_at"] is not None)
    watched = sum(float(r["ws"]) for r in lessons)
    return {
        "course_id": course_id,
        "completed_lessons": done,
        "total_lessons": len(lessons),
        "percent": course_percent(done, len(lessons)),
        "watch_seconds": int(watched),
        "completed_at": access["completed_at"],
        "lessons": [
            {
                "lesson_id": r["lesson_id"],
                "completed": r["completed_at"] is not None,
                "watched_seconds": float(r["ws"]),
            }
            for r in lessons
        ],
    }
