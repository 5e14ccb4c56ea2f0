"""Request and response bodies of the upload routes, and the per-purpose upload limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypedDict
from uuid import UUID

from pydantic import Field, field_validator

from shared.platform.models import Model, Out

Purpose = Literal["lesson_video", "resource", "thumbnail"]
MiB = 1024 * 1024


@dataclass(frozen=True)
class Limit:
    """What one purpose accepts: content types (in the order the docs list them), the
    largest size, and what the upload needs and does (for the docs)."""

    types: tuple[str, ...]
    max_bytes: int
    needs: str


# What each purpose accepts. media_finalized checks the stored object against the upload
# record again (type, exact size, and the file's own magic bytes / MP4 header), because local
# storage does not enforce the signed URL's conditions. The route's docs are generated from
# this table (describe_limits).
LIMITS: dict[str, Limit] = {
    "lesson_video": Limit(
        ("video/mp4",),
        5 * 1024 * MiB,
        "a playable MP4 with a video track; needs `lesson_id` of a video lesson; when ready"
        " the lesson becomes ready with its duration",
    ),
    "resource": Limit(
        (
            "application/pdf",
            "application/zip",
            "application/epub+zip",
            "text/plain",
            "text/csv",
            "text/markdown",
            "image/png",
            "image/jpeg",
            "audio/mpeg",
        ),
        200 * MiB,
        "needs `course_id` or `lesson_id`; attach it with POST .../courses/{course_id}/resources",
    ),
    "thumbnail": Limit(
        ("image/jpeg", "image/png", "image/webp"),
        5 * MiB,
        "needs `lesson_id` (lesson thumbnail) or `course_id` (course cover)",
    ),
}


def shown_size(max_bytes: int) -> str:
    """A size limit as the docs show it: `5 GiB`, `200 MiB`."""
    size = max_bytes / MiB
    return f"{size / 1024:g} GiB" if size >= 1024 else f"{size:g} MiB"


def describe_limits() -> str:
    """The per-purpose rules as a Markdown list (the upload route's description)."""
    return "\n".join(
        f"- `{purpose}`: {', '.join(rule.types)} up to {shown_size(rule.max_bytes)}; {rule.needs}."
        for purpose, rule in LIMITS.items()
    )


class UploadIn(Model):
    """Ask for a signed URL to upload one file straight to storage.

    The per-purpose rules (content type, largest size, what the upload is for) are checked by
    `problems()` after the caller's role, so another channel's member learns nothing (404).
    """

    purpose: Purpose
    lesson_id: UUID | None = Field(default=None, description="lesson_video: the video lesson")
    course_id: UUID | None = None
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=3, max_length=100, examples=["video/mp4"])
    size_bytes: int = Field(
        ge=1,
        le=LIMITS["lesson_video"].max_bytes,
        description="Exact size in bytes; storage refuses any other",
    )

    @field_validator("content_type")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.lower()

    @field_validator("filename")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if any(ord(c) < 32 for c in v):
            raise ValueError("must not contain control characters")
        return v

    def problems(self) -> list[dict[str, Any]]:
        """Validation errors of the per-purpose rules (422 `errors` entries)."""
        rule = LIMITS[self.purpose]
        errors: list[dict[str, Any]] = []
        if self.content_type not in rule.types:
            errors.append(
                {
                    "loc": ["body", "content_type"],
                    "msg": f"{self.purpose} accepts {', '.join(sorted(rule.types))}",
                }
            )
        if self.size_bytes > rule.max_bytes:
            errors.append(
                {
                    "loc": ["body", "size_bytes"],
                    "msg": f"{self.purpose} files are at most {rule.max_bytes} bytes",
                }
            )
        if self.purpose == "lesson_video" and self.lesson_id is None:
            errors.append({"loc": ["body", "lesson_id"], "msg": "lesson_video needs lesson_id"})
        if self.purpose != "lesson_video" and self.lesson_id is None and self.course_id is None:
            errors.append(
                {
                    "loc": ["body", "course_id"],
                    "msg": f"{self.purpose} needs course_id or lesson_id",
                }
            )
        return errors


class UploadTicket(Out):
    upload_id: str
    status: Literal["pending"]
    url: str = Field(description="V4 signed URL; PUT the bytes here")
    method: Literal["PUT"]
    headers: dict[str, str] = Field(description="Send exactly these headers with the PUT")
    expires_at: datetime


class UploadOut(Out):
    upload_id: str
    purpose: Purpose
    status: Literal["pending", "ready", "rejected"]
    reason: str | None = Field(default=None, description="Why a rejected upload was refused")
    filename: str
    content_type: str
    size_bytes: int
    course_id: str | None
    lesson_id: str | None
    duration_seconds: float | None = Field(description="Lesson videos, from the MP4 header")
    created_at: datetime
    finalized_at: datetime | None


class UploadTicketData(TypedDict):
    """What `create_upload` answers (the shape of UploadTicket)."""

    upload_id: str
    status: Literal["pending"]
    url: str
    method: Literal["PUT"]
    headers: dict[str, str]
    expires_at: datetime


class UploadData(TypedDict):
    """What `get_upload` answers (the shape of UploadOut)."""

    upload_id: str
    purpose: Purpose
    status: Literal["pending", "ready", "rejected"]
    reason: str | None
    filename: str
    content_type: str
    size_bytes: int
    course_id: str | None
    lesson_id: str | None
    duration_seconds: float | None
    created_at: datetime
    finalized_at: datetime | None
