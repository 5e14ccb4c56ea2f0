"""Watch progress: heartbeats, explicit completion of text lessons, course progress.

Heartbeats are the hottest write of the platform. The route (`accept_heartbeat`) checks who
may watch (a database read only the first time a student beats a lesson in this process, then
remembered for VIEWER_TTL seconds; a revoked enrollment is caught again at the write), stamps
the beat with the time it arrived and hands it to this process's group writer
(shared/platform/group_writer.py), which writes all pending beats with ONE call of the SQL
function record_heartbeats() (migrations 0021, 0026, 0027): one round trip and one
commit for the whole batch. For each beat, in arrival order and with its arrival time as the
server clock, the SQL sets the tenant context (transaction-local, so row-level security holds
per beat), checks access again with the rule of shared.learning.authorize_viewer, swaps the
session's last heartbeat (row lock), computes the credited interval with the rule of
shared.learning.rules.credited_interval, records the analytics event, merges the interval into
the student's nummultirange under the row lock (no read-modify-write from Python) and flips
completion at shared.learning.rules.completion_threshold. The numbers of those rules
(MAX_PLAYBACK_RATE, COMPLETION_RATIO) and the staff roles are passed in from Python, their
single source; tests/integration/learning/test_heartbeat_sql.py holds the SQL to the Python
model (shared.learning.rules.LessonWatch). Real time is credited once per student and lesson,
whatever the number of players (0027).

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

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypedDict

from shared import analytics
from shared.channels import check_channel_id
from shared.learning.rules import COMPLETION_RATIO, MAX_PLAYBACK_RATE, course_percent
from shared.learning.schemas import HeartbeatIn
from shared.learning.service import (
    STAFF_ROLES_LITERAL,
    VIEWING_COLUMNS,
    authorize_viewer,
    lesson_access,
)
from shared.platform import db, outbox
from shared.platform.db import Row, Tx, transaction
from shared.platform.errors import Conflict, DomainError, Forbidden, NotFound
from shared.platform.group_writer import GroupWriter
from shared.platform.ids import is_uuid

logger = logging.getLogger("progress")

HEARTBEATS_SQL = (
    "SELECT * FROM record_heartbeats(CAST(:beats AS jsonb), :rate, :ratio, CAST(:staff AS text[]))"
)


class BeatStatus(StrEnum):
    """What record_heartbeats() did with a beat (its `status`; an unwritten beat's status is
    'error: ' and the database's message)."""

    OK = "ok"
    NO_CHANNEL = "no_channel"
    NO_LESSON = "no_lesson"
    NOT_ENROLLED = "not_enrolled"
    NO_VIDEO = "no_video"
    ERROR = "error"


def beat_status(status: str) -> BeatStatus:
    return BeatStatus.ERROR if status.startswith("error") else BeatStatus(status)


# The function's refusals, as the same errors authorize_viewer raises.
HEARTBEAT_REFUSALS: dict[BeatStatus, Callable[[], DomainError]] = {
    BeatStatus.NO_CHANNEL: lambda: NotFound("No such channel."),
    BeatStatus.NO_LESSON: lambda: NotFound("No such lesson."),
    BeatStatus.NOT_ENROLLED: lambda: Forbidden("Enroll in this course first."),
    BeatStatus.NO_VIDEO: lambda: Conflict("This lesson has no playable video."),
}


class HeartbeatCredit(TypedDict):
    credited_seconds: float
    lesson_completed_now: bool
    watched_seconds: float | None


class LessonCompletion(TypedDict):
    lesson_id: str
    completed: bool
    completed_at: datetime
    course_completed: bool


class LessonProgress(TypedDict):
    lesson_id: str
    completed: bool
    watched_seconds: float


class CourseProgress(TypedDict):
    course_id: str
    completed_lessons: int
    total_lessons: int
    percent: int
    watch_seconds: int
    completed_at: datetime | None
    lessons: list[LessonProgress]


# How long a process trusts an allowed (channel, student, lesson) before asking again. The
# write re-checks every beat, so a revoked enrollment stops crediting at once; this only
# delays the 403 answer by at most this long.
VIEWER_TTL = 30.0
_VIEWERS_MAX = 100_000
_viewers: dict[tuple[str, str, str], float] = {}  # (channel, user, lesson) -> expiry


@dataclass(frozen=True, slots=True)
class Heartbeat:
    channel_id: str
    user_id: str
    lesson_id: str | None  # None: the path segment was not a uuid
    session_id: str
    position: float
    playing: bool
    at: datetime  # when it arrived: the server clock of the watch rule


def write_heartbeats(beats: Sequence[Heartbeat]) -> list[Row]:
    """Write beats with one call of record_heartbeats(); one result row per beat, in order.

    Emits the completion events of every lesson the beats completed (see the module doc);
    each row's `lesson_completed_now` says whether that beat's lesson events were emitted here.
    A failure there does not fail the batch (which is written): the completion stays pending
    and the lesson's next merging beat emits it. A batch written twice (a retry after a lost
    answer) credits nothing the second time, none of its beats being newer than its
    sessions' last; only its analytics events would be recorded twice.
    """
    payload = json.dumps(
        [
            {
                "c": b.channel_id,
                "u": b.user_id,
                "l": b.lesson_id,
                "s": b.session_id,
                "pos": b.position,
                "pl": b.playing,
                "at": b.at.isoformat(),
            }
            for b in beats
        ]
    )
    rows = db.call(
        HEARTBEATS_SQL,
        beats=payload,
        rate=MAX_PLAYBACK_RATE,
        ratio=COMPLETION_RATIO,
        staff=STAFF_ROLES_LITERAL,
    )
    rows.sort(key=lambda r: r["i"])
    emitted: set[tuple[str, str | None]] = set()
    for beat, row in zip(beats, rows, strict=True):
        row["lesson_completed_now"] = False
        if beat_status(row["status"]) is BeatStatus.ERROR:
            logger.error("heartbeat not written: %s", row["status"])
        key = (beat.user_id, beat.lesson_id)
        if row["completion_pending"] and key not in emitted:
            emitted.add(key)
            try:
                with transaction(channel_id=beat.channel_id, user_id=beat.user_id) as tx:
                    row["lesson_completed_now"] = (
                        _lesson_completed(
                            tx,
                            channel_id=beat.channel_id,
                            user_id=beat.user_id,
                            lesson_id=str(beat.lesson_id),
                            course_id=str(row["course_id"]),
                        )
                        is not None
                    )
            except Exception:
                logger.exception("completion of lesson %s left pending", beat.lesson_id)
    return rows


heartbeat_writer: GroupWriter[Heartbeat] = GroupWriter(
    write_heartbeats, name="heartbeats", linger=0.05, overdue=0.5
)


def accept_heartbeat(*, channel_id: str, lesson_id: str, user_id: str, beat: HeartbeatIn) -> None:
    """The route: refuse who may not watch (404/403/409), else queue the beat for writing."""
    check_channel_id(channel_id)
    key = (channel_id, user_id, lesson_id)
    now = time.monotonic()
    if _viewers.get(key, 0.0) < now:
        with transaction(channel_id=channel_id, user_id=user_id) as tx:
            row = lesson_access(tx, lesson_id=lesson_id, user_id=user_id)
        if row["status"] != "ready" or not row["video_object"] or not row["duration_seconds"]:
            raise HEARTBEAT_REFUSALS[BeatStatus.NO_VIDEO]()
        if len(_viewers) >= _VIEWERS_MAX:
            _viewers.clear()
        _viewers[key] = now + VIEWER_TTL
    heartbeat_writer.submit(
        Heartbeat(
            channel_id,
            user_id,
            lesson_id,
            beat.session_id,
            beat.position_seconds,
            beat.playing,
            datetime.now(UTC),
        )
    )


def record_heartbeat(
    *,
    channel_id: str,
    lesson_id: str,
    user_id: str,
    session_id: str,
    position: float,
    playing: bool,
    now: datetime | None = None,
) -> HeartbeatCredit:
    """Write one heartbeat now (no queue); returns what it credited.

    `now` is the beat's arrival time, the server clock of the watch rule (tests simulate it).
    """
    check_channel_id(channel_id)
    beat = Heartbeat(
        channel_id,
        user_id,
        lesson_id if is_uuid(lesson_id) else None,
        session_id,
        position,
        playing,
        now or datetime.now(UTC),
    )
    row = write_heartbeats([beat])[0]
    refused = HEARTBEAT_REFUSALS.get(beat_status(row["status"]))
    if refused is not None:
        raise refused()
    watched = row["watched_seconds"]
    return {
        "credited_seconds": float(row["credited"]),
        "lesson_completed_now": row["lesson_completed_now"],
        "watched_seconds": float(watched) if watched is not None else None,
    }


def complete_lesson(*, channel_id: str, lesson_id: str, user_id: str) -> LessonCompletion:
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
        if done is None:  # an upsert returns its row
            raise RuntimeError("the completion was not written")
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
    analytics.record(tx, event_type="lesson.completed", user_id=user_id, metadata=payload)
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
    analytics.record(tx, event_type="course.completed", user_id=user_id, metadata=done)
    return True


COURSE_ACCESS_SQL = f"""
SELECT c.id AS course_id, c.status AS course_status, m.role, e.id AS enrollment_id,
       e.completed_at,{VIEWING_COLUMNS}
  FROM (SELECT 1) AS one
  LEFT JOIN memberships m ON m.channel_id = app_channel_id() AND m.user_id = :u
  LEFT JOIN courses c ON c.id = :c AND c.channel_id = app_channel_id()
  LEFT JOIN enrollments e ON e.channel_id = app_channel_id() AND e.course_id = c.id
        AND e.user_id = :u AND e.status = 'active'
"""


def course_progress(*, channel_id: str, course_id: str, user_id: str) -> CourseProgress:
    """The caller's progress through a course they are enrolled in (or staff of)."""
    check_channel_id(channel_id)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        access = tx.one(
            COURSE_ACCESS_SQL,
            u=user_id,
            c=course_id if is_uuid(course_id) else None,
            staff=STAFF_ROLES_LITERAL,
        )
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
