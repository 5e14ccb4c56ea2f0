"""Request and response bodies of the privacy routes (API.md "Analytics, integrations,
privacy, audit")."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from shared.platform.models import Model, Out


class JobOut(Out):
    job_id: str


class JobStatus(Out):
    status: Literal["running", "ready", "done", "failed", "expired"] = Field(
        description="`ready`: the ZIP can be downloaded from `url` until `expires_at`"
    )
    url: str | None = Field(default=None, description="A signed download URL (15 minutes)")
    expires_at: datetime | None = Field(default=None, description="When the export is deleted")


class ErasureIn(Model):
    password: str = Field(min_length=1, max_length=1024)
    delete_posts: bool = Field(
        default=False,
        description="Delete my posts and comments too (default: kept, shown as "
        "written by a deleted user)",
    )


class StepIn(Model):
    job_id: str = Field(min_length=36, max_length=36)
    user_id: str = Field(min_length=36, max_length=36)
    step: str = Field(
        min_length=1,
        max_length=40,
        description="A step name; `plan` lists the steps left, `fail` marks the job failed",
    )
    error: str | None = Field(default=None, max_length=4000)


class StepOut(Out):
    job_id: str
    kind: str | None = None
    step: str | None = None
    done: bool | None = None
    next: str | None = None
    steps: list[str] | None = Field(default=None, description="`plan`: the steps left")


def _date_time_text(value: object) -> object:
    """A date-time is text like 2027-03-01T09:00:00Z; pydantic would also take a number of
    seconds since 1970 ("0.5"), which the schema's `date-time` format refuses."""
    if isinstance(value, int | float) or (
        isinstance(value, str)
        and re.fullmatch(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*", value)
    ):
        raise ValueError("must be a date-time, e.g. 2027-03-01T09:00:00Z")
    return value


DateTimeText = Annotated[datetime, BeforeValidator(_date_time_text)]


class AuditQuery(Model):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=512)
    from_: DateTimeText | None = Field(default=None, alias="from")
    to: DateTimeText | None = None
    # the column is a uuid: a pattern refuses with a 422 what Postgres would refuse with a 500
    actor: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    )
    action: str | None = Field(default=None, max_length=100)
    format: Literal["json", "csv"] = "json"


class AuditEntry(Out):
    seq: int
    action: str
    actor_user_id: str | None
    target_type: str | None
    target_id: str | None
    request_id: str | None
    details: dict[str, Any]
    occurred_at: datetime
    hash: str


class AuditList(Out):
    items: list[AuditEntry]
    next_cursor: str | None
    chain_verified: bool = Field(description="The channel's whole hash chain verifies")
    chain_broken_at: int | None = Field(description="seq of the first row that does not follow")


class RetentionOut(Out):
    deleted: dict[str, int]
