"""Watch progress: heartbeats, explicit completion of text lessons, course progress.

The heartbeat is the hottest write of the platform. Per request it runs two statements in one
transaction and never reads-then-writes a shared value from Python:
  1. access check + swap of the session's last heartbeat (UPDATE ... FROM (SELECT ... FOR
     UPDATE) returns the previous heartbeat and stamps the new one with the server clock);
  2. merge of the credited interval into the student's nummultirange for the lesson, under the
     UPDATE's row lock, plus the analytics event (one statement, two CTEs).
The rules (what is credited, when a lesson is complete) are the pure ones in
shared.domain.watch. Only when a lesson flips to complete does the slower path run: outbox
`lesson.completed` and, once every lesson is complete, `course.completed` exactly once.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from shared import analytics_events, outbox
from shared.access import check_channel_id
from shared.db import Tx, transaction
from shared.domain.watch import Beat, completion_threshold, course_percent, credited_interval
from shared.errors import Conflict, NotFound
from shared.ids import is_uuid
from shared.learning import LESSON_ACCESS_SQL, authorize_viewer, lesson_access

SWAP_SESSION_SQL = f"""
WITH ctx AS ({LESSON_ACCESS_SQL}),
sw AS (
    UPDATE watch_sessions w
       SET position = :pos, playing = :pl, last_seen_at = clock_timestamp(), beats = w.beats + 1
      FROM (SELECT user_id, lesson_id, session_id, position, playing, last_seen_at
              FROM watch_sessions
             WHERE user_id = :u AND lesson_id = :l AND session_id = :s FOR UPDATE) AS old
     WHERE w.user_id = old.user_id AND w.lesson_id = old.lesson_id
       AND w.session_id = old.session_id
    RETURNING old.position AS prev_position, old.playing AS prev_playing,
              extract(epoch FROM old.last_seen_at) AS prev_at,
              extract(epoch FROM w.last_seen_at) AS now_at
)
SELECT ctx.*, sw.* FROM ctx LEFT JOIN sw ON true
"""

NEW_SESSION_SQL = """
INSERT INTO watch_sessions (channel_id, user_id, lesson_id, session_id, position, playing,
                            started_at, last_seen_at)
VALUES (app_channel_id(), :u, :l, :s, :pos, :pl, clock_timestamp(), clock_timestamp())
ON CONFLICT (user_id, lesson_id, session_id) DO NOTHING
"""

MERGE_PROGRESS_SQL = f"""
WITH ev AS ({analytics_events.INSERT_SQL}),
v AS (SELECT CAST(:a AS numeric) AS a, CAST(:b AS numeric) AS b,
             CAST(:need AS numeric) AS need),
p AS (
    INSERT INTO lesson_progress AS lp (channel_id, user_id, lesson_id, course_id, watched,
                                       watched_seconds, completed_at, completed_by)
    SELECT app_channel_id(), :u, :l, :c, nummultirange(numrange(v.a, v.b)), v.b - v.a,
           CASE WHEN v.b - v.a >= v.need THEN now() END,
           CASE WHEN v.b - v.a >= v.need THEN 'watch' END
      FROM v WHERE CAST(:credit AS boolean)
    ON CONFLICT (user_id, lesson_id) DO UPDATE SET
        watched = lp.watched + EXCLUDED.watched,
        watched_seconds = multirange_length(lp.watched + EXCLUDED.watched),
        completed_at = coalesce(lp.completed_at, CASE WHEN multirange_length(
            lp.watched + EXCLUDED.watched) >= CAST(:need AS numeric) THEN now() END),
        completed_by = coalesce(lp.completed_by, CASE WHEN multirange_length(
            lp.watched + EXCLUDED.watched) >= CAST(:need AS numeric) THEN 'watch' END),
        updated_at = now()
    RETURNING lp.watched_seconds, lp.completed_at, lp.completed_at = now() AS completed_now
)
SELECT * FROM p
"""


def record_heartbeat(
    *,
    channel_id: str,
    lesson_id: str,
    user_id: str,
    session_id: str,
    position: float,
    playing: bool,
) -> dict[str, Any]:
    """Apply one player heartbeat; returns what it credited (the route answers 204)."""
    check_channel_id(channel_id)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        if not is_uuid(lesson_id):
            lesson_access(tx, lesson_id=lesson_id, user_id=user_id)  # raises 404
        swapped = tx.all(
            SWAP_SESSION_SQL, u=user_id, l=lesson_id, s=session_id, pos=position, pl=playing
        )
        row = authorize_viewer(swapped[0] if swapped else None)
        if row["status"] != "ready" or not row["video_object"] or not row["duration_seconds"]:
            raise Conflict("This lesson has no playable video.")
        duration = float(row["duration_seconds"])
        interval = None
        if row["now_at"] is None:
            tx.all(NEW_SESSION_SQL, u=user_id, l=lesson_id, s=session_id, pos=position, pl=playing)
        else:
            prev = Beat(
                float(row["prev_position"]), bool(row["prev_playing"]), float(row["prev_at"])
            )
            interval = credited_interval(
                prev, position=position, at=float(row["now_at"]), duration=duration
            )
        a, b = interval if interval else (None, None)
        credited = round(b - a, 3) if interval else 0.0
        meta = {
            "lesson_id": lesson_id,
            "course_id": str(row["course_id"]),
            "session_id": session_id,
            "position": position,
            "playing": playing,
            "watch_seconds": credited,
        }
        merged = tx.all(
            MERGE_PROGRESS_SQL,
            u=user_id,
            l=lesson_id,
            c=row["course_id"],
            a=a,
            b=b,
            need=completion_threshold(duration),
            credit=interval is not None,
            eu=user_id,
            et="lesson.heartbeat",
            em=json.dumps(meta, separators=(",", ":")),
        )
        progress = merged[0] if merged else None
        completed_now = bool(progress and progress["completed_now"])
        if completed_now:
            _lesson_completed(
                tx,
                channel_id=channel_id,
                user_id=user_id,
                lesson_id=lesson_id,
                course_id=str(row["course_id"]),
                how="watch",
            )
    return {
        "credited_seconds": credited,
        "lesson_completed_now": completed_now,
        "watched_seconds": float(progress["watched_seconds"]) if progress else None,
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
            course_done = _lesson_completed(
                tx,
                channel_id=channel_id,
                user_id=user_id,
                lesson_id=lesson_id,
                course_id=str(row["course_id"]),
                how="explicit",
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
    tx: Tx, *, channel_id: str, user_id: str, lesson_id: str, course_id: str, how: str
) -> bool:
    """A lesson just became complete: events, then the course if it was the last one.

    Returns True when this completed the course. The enrollment row is locked before lessons
    are counted, so two lessons completing at once in two transactions serialize here and the
    later one sees the earlier one's commit: the course completes exactly once.
    """
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
