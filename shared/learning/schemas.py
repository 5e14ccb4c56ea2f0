"""Request and response bodies of the learning routes (enrollment, playback, progress)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, StrictBool

from shared.platform.models import ListQuery, Model, Out


class EnrollIn(Model):
    batch_id: str | None = Field(
        default=None, max_length=64, description="The batch (cohort) to take a seat in"
    )


class EnrollmentOut(Out):
    id: str
    channel_id: str
    course_id: str
    user_id: str
    batch_id: str | None
    status: Literal["active", "ended"]
    source: Literal["free", "paid", "staff"]
    created_at: datetime
    ended_at: datetime | None = None
    completed_at: datetime | None = None


class CourseRef(Out):
    id: str
    title: str


class ChannelRef(Out):
    id: str
    slug: str
    name: str


class MyEnrollment(EnrollmentOut):
    course: CourseRef | None = Field(description="null when the course is no longer public")
    channel: ChannelRef


class MyEnrollmentList(Out):
    items: list[MyEnrollment]
    next_cursor: str | None


class MyEnrollmentsQuery(ListQuery):
    status: Literal["active", "ended"] | None = None


class SignedUrlOut(Out):
    url: str = Field(description="Short-lived signed GET URL")
    expires_at: datetime


class HeartbeatIn(Model):
    session_id: str = Field(
        pattern=r"^[A-Za-z0-9._:-]{1,64}$", description="Chosen by the player, one per viewing"
    )
    position_seconds: float = Field(ge=0, le=1_000_000, allow_inf_nan=False, strict=True)
    playing: StrictBool


class LessonCompletionOut(Out):
    lesson_id: str
    completed: bool
    completed_at: datetime
    course_completed: bool


class LessonProgress(Out):
    lesson_id: str
    completed: bool
    watched_seconds: float


class CourseProgressOut(Out):
    course_id: str
    completed_lessons: int
    total_lessons: int
    percent: int = Field(ge=0, le=100)
    watch_seconds: int = Field(description="Distinct watched seconds over the course's videos")
    completed_at: datetime | None
    lessons: list[LessonProgress]
