"""Request and response bodies of the course, lesson, batch and resource routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    Field,
    GetJsonSchemaHandler,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from shared.billing import SUPPORTED_CURRENCIES
from shared.platform.models import ListQuery, Model, Out

CourseStatus = Literal["draft", "published", "archived"]
LessonKind = Literal["video", "text", "live"]


class Money(Model):
    """An amount in integer minor units (cents) and an ISO 4217 currency, lowercase: one the
    platform takes payments in, so a priced course can always be sold."""

    amount: int = Field(ge=1, le=100_000_000, description="Integer minor units, e.g. 4900")
    currency: str = Field(
        pattern=r"^[A-Za-z]{3}$",
        examples=["usd"],
        description="A supported currency: " + ", ".join(SUPPORTED_CURRENCIES),
        json_schema_extra={"enum": list(SUPPORTED_CURRENCIES)},
    )

    @field_validator("currency")
    @classmethod
    def _supported(cls, v: str) -> str:
        if v.lower() not in SUPPORTED_CURRENCIES:
            raise ValueError("not a supported currency: " + ", ".join(SUPPORTED_CURRENCIES))
        return v.lower()


class _NoNulls(Model):
    """PATCH bodies: a field may be left out, but only nullable ones may be set to null. The
    JSON schema says so too: a field outside NULLABLE is not nullable there (issue 17)."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_nulls(self):
        for name in self.model_fields_set:
            if getattr(self, name) is None and name not in self.NULLABLE:
                raise ValueError(f"{name} cannot be null")
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        for name, prop in handler.resolve_ref_schema(schema).get("properties", {}).items():
            if name not in cls.NULLABLE:
                not_null(prop)
        return schema


def not_null(prop: dict[str, Any]) -> None:
    """Drop `null` from a property's JSON schema (`anyOf: [X, null]` -> X), and the default
    null that only a left-out field takes."""
    branches = [b for b in prop.get("anyOf", []) if b.get("type") != "null"]
    if "anyOf" in prop and len(branches) == 1:
        del prop["anyOf"]
        prop.update(branches[0])
    elif "anyOf" in prop:
        prop["anyOf"] = branches
    if "default" in prop and prop["default"] is None:
        del prop["default"]


class CourseIn(Model):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)
    price: Money | None = Field(default=None, description="null or absent: a free course")


class CoursePatch(_NoNulls):
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"price"})

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    price: Money | None = Field(default=None, description="null makes the course free")


class CourseListQuery(ListQuery):
    status: CourseStatus | None = Field(
        default=None, description="Staff only; students and the public see published courses"
    )


class LessonIn(Model):
    title: str = Field(min_length=1, max_length=200)
    kind: LessonKind
    # 50k characters: even fully JSON-escaped it stays under the 1 MB body cap (422, not 413).
    body: str = Field(default="", max_length=50_000, description="Text lessons: the content")


class LessonPatch(_NoNulls):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, max_length=50_000)


class LessonOrder(Model):
    lesson_ids: list[UUID] = Field(
        max_length=1000, description="Every lesson of the course, in the new order"
    )


class LessonOut(Out):
    id: str
    course_id: str
    position: int
    title: str
    kind: LessonKind
    status: Literal["pending_media", "ready"] = Field(
        description="A video lesson is pending_media until its uploaded video is ready"
    )
    duration_seconds: float | None
    has_video: bool
    body: str | None = Field(description="Only for staff and enrolled students")
    created_at: datetime
    updated_at: datetime


class LessonList(Out):
    items: list[LessonOut]
    next_cursor: str | None = None


class CourseOut(Out):
    id: str
    channel_id: str
    title: str
    description: str
    status: CourseStatus
    price: Money | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


class CourseDetail(CourseOut):
    lessons: list[LessonOut] = Field(description="In order of position")


class CourseList(Out):
    items: list[CourseOut]
    next_cursor: str | None


def _integral_float(value: object) -> object:
    """60.0 -> 60; anything else as it came (strict validation judges it)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Minutes = Annotated[int, BeforeValidator(_integral_float)]


def _date_time_text(value: object) -> object:
    """A JSON date-time is a string (the schema says so); pydantic would also take a number
    of seconds since 1970."""
    if isinstance(value, int | float):
        raise ValueError("must be a date-time string, e.g. 2027-03-01T09:00:00Z")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_date_time_text)]


class BatchIn(Model):
    name: str = Field(min_length=1, max_length=200)
    starts_at: Instant
    ends_at: Instant | None = None
    capacity: int | None = Field(default=None, ge=1, le=100_000)

    @model_validator(mode="after")
    def _ends_after_start(self):
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class BatchPatch(_NoNulls):
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"ends_at", "capacity"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    capacity: int | None = Field(default=None, ge=1, le=100_000)


class BatchOut(Out):
    id: str
    course_id: str
    name: str
    starts_at: datetime
    ends_at: datetime | None
    capacity: int | None
    seats_taken: int
    created_at: datetime


class BatchList(Out):
    items: list[BatchOut]
    next_cursor: str | None


class ResourceIn(Model):
    """Attach a file uploaded with purpose `resource` (POST {c}/uploads) to the course or to
    one of its lessons. The upload may still be pending: the resource becomes downloadable
    when the upload is ready."""

    title: str = Field(min_length=1, max_length=200)
    upload_id: UUID
    lesson_id: UUID | None = None


class ResourceOut(Out):
    id: str
    course_id: str
    lesson_id: str | None
    title: str
    upload_id: str | None
    ready: bool = Field(description="The file has been checked and can be downloaded")
    content_type: str | None
    size_bytes: int | None
    created_at: datetime


class ResourceList(Out):
    items: list[ResourceOut]
    next_cursor: str | None


class LiveSessionIn(Model):
    """A live class of the batch, scheduled at the live provider (Zoom)."""

    title: str = Field(min_length=1, max_length=200, description="Zoom's topic limit is 200")
    starts_at: Instant = Field(description="With a time zone offset, e.g. ...T18:00:00Z")
    # strict: "60" or 60.5 is a client bug, not something to round or coerce into a meeting;
    # 60.0 is the JSON number 60 (JSON Schema's "integer" includes it), so it is taken.
    duration_minutes: Minutes = Field(strict=True, ge=1, le=1440)


class LiveSessionPatch(Model):
    """Reschedule or rename a live class: the fields sent change (none: nothing changes)."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    starts_at: Instant | None = None
    duration_minutes: Minutes | None = Field(default=None, strict=True, ge=1, le=1440)


# Live sessions as answered: shared/live/schemas.py (no host link there: issue 11).
