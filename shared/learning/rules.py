"""Watch-time rules: which seconds of a video a heartbeat proves were watched.

Pure functions, no I/O. A player sends a heartbeat `(session_id, position_seconds, playing)`
every few seconds. Between two heartbeats of the same session, if the player was playing, the
span from the previous position forward is credited, but never more than real time allows:
at most `elapsed * MAX_PLAYBACK_RATE` seconds, where `elapsed` is measured by the server's
clock between the two heartbeats (the client's own claims of time are not trusted).

Real time is credited once per student and lesson, whatever the number of players: a beat
whose session was playing claims the wall-clock window since that session's previous beat,
and no session of the same student's lesson is credited for that window again
(`claimed_until`). So N players at staggered positions cannot watch a lesson N times faster
than real time; a single player is credited exactly as without the claims. `LessonWatch` is
the whole rule for one student's lesson, the reference the heartbeat SQL is tested against.

Distinct watched seconds are the length of the union of credited intervals: replaying or
seeking back never counts a second twice. The database keeps that union as a `nummultirange`
(see 0015_learning.sql); `merge` and `distinct_seconds` here are the reference model the
tests hold the SQL to.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

# Players offer up to 2x speed; anything faster than that between two heartbeats is a claim
# real time does not allow, and is capped.
MAX_PLAYBACK_RATE = 2.0
COMPLETION_RATIO = 0.9
# Playback URLs are short-lived (the storage adapter signs for at most 15 minutes); a player
# asks for a fresh one when it has expired.
PLAYBACK_URL_TTL = 15 * 60

Interval = tuple[float, float]


@dataclass(frozen=True)
class Beat:
    """What the server remembers of a session's last heartbeat."""

    position: float
    playing: bool
    at: float  # server time, seconds (epoch)


def clamp_position(position: float, duration: float) -> float:
    if not math.isfinite(position) or position < 0:
        return 0.0
    return min(float(position), float(duration))


def credited_interval(
    prev: Beat | None,
    *,
    position: float,
    at: float,
    duration: float,
    claimed_until: float | None = None,
) -> Interval | None:
    """The interval of the video the heartbeat at `at` proves was watched, if any.

    Nothing is credited for the first heartbeat of a session, after a pause (the previous
    heartbeat said not playing), for a seek backwards, or when the server clock did not move.
    A forward jump is credited from the previous position for at most the time real time
    allows; the rest of the jump is a seek. Real time runs from the later of the session's
    previous beat and `claimed_until`, the end of the last window any session of this
    student's lesson was credited for.
    """
    if prev is None or not prev.playing:
        return None
    start = clamp_position(prev.position, duration)
    end = clamp_position(position, duration)
    since = prev.at if claimed_until is None else max(prev.at, claimed_until)
    elapsed = at - since
    if end <= start or elapsed <= 0:
        return None
    end = min(end, start + elapsed * MAX_PLAYBACK_RATE)
    end = round(end, 3)
    start = round(start, 3)
    return (start, end) if end > start else None


def claims(prev: Beat | None) -> bool:
    """A beat claims the real time since its session's previous beat if that one was playing."""
    return prev is not None and prev.playing


@dataclass
class LessonWatch:
    """One student's lesson as the server sees it: each player session's last beat and the
    end of the last claimed window. `beat` applies the whole rule to one arriving heartbeat."""

    duration: float
    sessions: dict[str, Beat] = field(default_factory=dict)
    claimed_until: float | None = None

    def beat(self, session: str, *, position: float, playing: bool, at: float) -> Interval | None:
        """The interval this heartbeat credits. A beat older than its session's last one
        (it arrived late) credits nothing and changes nothing."""
        prev = self.sessions.get(session)
        if prev is not None and at < prev.at:
            return None
        interval = credited_interval(
            prev, position=position, at=at, duration=self.duration, claimed_until=self.claimed_until
        )
        if claims(prev):
            self.claimed_until = at if self.claimed_until is None else max(self.claimed_until, at)
        self.sessions[session] = Beat(position, playing, at)
        return interval


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Union of half-open intervals [a, b), as sorted disjoint intervals (touching ones join)."""
    out: list[list[float]] = []
    for a, b in sorted((a, b) for a, b in intervals if b > a):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def distinct_seconds(intervals: Iterable[Interval]) -> float:
    return sum(b - a for a, b in merge(intervals))


def completion_threshold(duration: float) -> float:
    """Distinct seconds a video lesson needs to count as complete (90% of its duration)."""
    return round(float(duration) * COMPLETION_RATIO, 3)


def is_complete(watched_seconds: float, duration: float) -> bool:
    return duration > 0 and watched_seconds >= completion_threshold(duration)


def course_percent(completed: int, total: int) -> int:
    """Whole percent of lessons complete; 100 only when every lesson is."""
    if total <= 0:
        return 0
    return (100 * completed) // total


# -- enrollment ----------------------------------------------------------------------------------
class EnrollmentSource(StrEnum):
    FREE = "free"  # the student enrolls themself in a free course
    PAID = "paid"  # a completed checkout (the Stripe webhook)
    STAFF = "staff"  # added by the channel's staff


class Refusal(StrEnum):
    """Why an enrollment cannot be created; the use case answers each with its HTTP error."""

    NO_COURSE = "no_course"  # 404: unknown, or a draft (invisible)
    CLOSED = "closed"  # 409: archived, no new students
    PAYMENT_REQUIRED = "payment_required"  # 402: a free enrollment in a priced course
    ALREADY_ENROLLED = "already_enrolled"  # 409


class EnrollStep(StrEnum):
    """How an allowed enrollment is written."""

    INSERT = "insert"  # a first enrollment
    REACTIVATE = "reactivate"  # an ended one becomes active again (same id)


def enrollment_refusal(
    course_status: str | None, *, priced: bool, source: EnrollmentSource
) -> Refusal | None:
    """May anyone enroll in this course now (`course_status` None: no such course)?"""
    if course_status is None or course_status == "draft":
        return Refusal.NO_COURSE
    if course_status != "published":
        return Refusal.CLOSED
    if source == EnrollmentSource.FREE and priced:
        return Refusal.PAYMENT_REQUIRED
    return None


def enroll_step(existing_status: str | None) -> EnrollStep | Refusal:
    """Given the student's enrollment in the course (None: never enrolled)."""
    if existing_status is None:
        return EnrollStep.INSERT
    if existing_status == "active":
        return Refusal.ALREADY_ENROLLED
    return EnrollStep.REACTIVATE
