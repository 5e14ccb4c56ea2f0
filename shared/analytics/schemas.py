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
    tz: str = Field(
        default="UTC", max_length=64, description="IANA time zone of the day boundaries"
    )

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, v: str) -> str:
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
    rate: float


class SummaryOut(Out):
    from_: date = Field(alias="from")
    to: date
    tz: str
    watch_seconds: float
    lesson_completions: int
    course_completions: int
    enrollments: int
    resource_downloads: int
    certificates_issued: int = Field(description="0 until certificates exist")
    certificate_views: int = Field(description="0 until certificates exist")
    attendance_rate: list[AttendanceOut] = Field(description="Empty until live attendance exists")
    revenue: list[RevenueOut]
    series: list[DayOut]


class Csv(TypedDict):
    filename: str
    body: str
