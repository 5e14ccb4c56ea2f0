"""Query parameters and answers of the analytics routes (KPI summary, CSV export)."""

from __future__ import annotations

from datetime import date
from typing import Literal, TypedDict

from pydantic import Field, field_validator, model_validator

from shared.analytics import rules
from shared.platform.models import Model, Out


class SummaryQuery(Model):
    first: date | None = Field(
        default=None,
        alias="from",
        description="First day (YYYY-MM-DD, in `tz`); default: 29 days before `to`",
    )
    last: date | None = Field(
        default=None, alias="to", description="Last day, included; default: today in `tz`"
    )
    course_id: str | None = Field(default=None, max_length=64)
    batch_id: str | None = Field(default=None, max_length=64)
    tz: str | None = Field(
        default=None,
        max_length=64,
        description="IANA time zone of the day boundaries; default: the channel's "
        "(analytics settings), else UTC",
    )

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        if v is not None:
            rules.zone(v)
        return v

    @model_validator(mode="after")
    def _a_period(self) -> SummaryQuery:
        problem = rules.period_problem(self.first, self.last)
        if problem:
            raise ValueError(problem)
        return self


class ExportQuery(SummaryQuery):
    kind: Literal["daily", "revenue"] = Field(
        default="daily", description="daily: one row a day; revenue: one row a day and currency"
    )


class SettingsIn(Model):
    timezone: str = Field(
        min_length=1,
        max_length=64,
        description="IANA time zone of the channel's analytics days",
        examples=["Europe/Paris"],
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        rules.zone(v)
        return v


class SettingsOut(Out):
    timezone: str = Field(description="IANA time zone of the channel's analytics days")


class RevenueOut(Out):
    currency: str
    gross: int = Field(description="Sales, integer minor units")
    fees: int = Field(description="Platform fees")
    refunds: int = Field(description="Refunds and disputes (net of disputes won)")
    net: int = Field(description="gross - fees - refunds")


class DayOut(Out):
    day: date
    watch_seconds: float
    lesson_completions: int
    course_completions: int
    enrollments: int
    resource_downloads: int
    certificates_issued: int
    certificate_views: int
    revenue: list[RevenueOut]


class AttendanceOut(Out):
    batch_id: str
    rate: float = Field(ge=0, le=1)


class SummaryOut(Out):
    from_: date = Field(alias="from")
    to: date
    tz: str
    watch_seconds: float
    lesson_completions: int
    course_completions: int
    enrollments: int
    resource_downloads: int
    certificates_issued: int = Field(description="Certificates issued in the period")
    certificate_views: int = Field(
        description="Views of the channel's certificates (public page and verifications)"
    )
    attendance_rate: list[AttendanceOut] = Field(
        description="Per batch with live sessions in the period: attended / expected "
        "student-sessions (empty without live attendance)"
    )
    revenue: list[RevenueOut]
    series: list[DayOut]


class Csv(TypedDict):
    filename: str
    body: str
