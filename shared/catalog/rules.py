"""Catalog rules: who may view a course, and what an archived course allows. Pure, no I/O.

The SQL copy of `course_viewable` is the function of the same name (migration
0026_course_viewable.sql), which learning's access queries and the heartbeat writer call;
tests/integration/learning/test_course_viewable_sql.py holds the two to one truth table.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class CourseStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"  # retired: off the catalogue, closed to new students, read-only


ARCHIVED_MESSAGE = "The course is archived."


def course_viewable(status: str | None, *, staff: bool, enrolled: bool) -> bool:
    """May a viewer see the course (its page, lessons, batches, resources)?

    Staff of the channel see every course, drafts included; everyone sees a published
    course; an archived course stays viewable to the students still enrolled in it.
    """
    if staff:
        return True
    if status == CourseStatus.PUBLISHED:
        return True
    return status == CourseStatus.ARCHIVED and enrolled


def course_writable(status: str) -> bool:
    """An archived course is read-only: no edits, lessons, batches, resources or uploads
    until it is published again."""
    return status != CourseStatus.ARCHIVED


def publish_blockers(
    *, waiting: list[tuple[str, str]], priced: bool, charges_enabled: bool
) -> list[dict[str, Any]]:
    """Why a course cannot be published yet (empty: it can), as the 409's `reasons`.

    `waiting`: (id, title) of its video lessons without a ready video, in lesson order;
    `priced`: it has a price; `charges_enabled`: its channel can take payments."""
    reasons: list[dict[str, Any]] = []
    if waiting:
        reasons.append(
            {
                "code": "video_not_ready",
                "msg": "video lessons without a ready video: "
                + ", ".join(f"'{title}'" for _, title in waiting),
                "lesson_ids": [lesson_id for lesson_id, _ in waiting],
            }
        )
    if priced and not charges_enabled:
        reasons.append(
            {
                "code": "payments_not_enabled",
                "msg": "the channel cannot take payments yet (payout onboarding)",
            }
        )
    return reasons
