"""Creator KPIs: the period asked for, and the summary assembled from per-day figures. Pure.

A period is a range of whole local days `[first, last]` of a time zone (IANA name, UTC by
default), at most MAX_DAYS long. The service reads per-day figures (events, enrollments,
ledger totals per kind and currency) and `summary()` turns them into the API's answer: totals,
revenue per currency and a series with every day of the period, zeros included. `to_csv`
writes rows with every text cell safe to open in a spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_DAYS = 366
DEFAULT_DAYS = 30
# The days a period may hold: far from the calendar's ends, so local midnights always exist.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2199, 12, 31)
# The counted analytics events (shared.learning records them) and the KPI each one feeds.
EVENT_KPIS = {
    "lesson.completed": "lesson_completions",
    "course.completed": "course_completions",
    "resource.downloaded": "resource_downloads",
}
COUNTS = (
    "lesson_completions",
    "course_completions",
    "enrollments",
    "resource_downloads",
    "certificates_issued",
    "certificate_views",
)
# Ledger kinds (shared.billing.ledger) as the creator reads them. Plan invoices are what the
# channel pays the platform, not revenue of its courses: not counted here.
GROSS_KINDS = ("sale",)
FEE_KINDS = ("platform_fee",)
REFUND_KINDS = ("refund", "dispute", "dispute_won")
REVENUE_KINDS = GROSS_KINDS + FEE_KINDS + REFUND_KINDS
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Days of raw analytics events Postgres keeps per plan (shared.billing plans; the warehouse
# keeps them all). Rollups are kept whole. Periods in a time zone other than UTC and figures
# by batch are read from raw events, so they reach back this far.
RAW_WINDOW_DAYS = {"free": 100, "pro": 200, "business": 400}


def raw_window_days(plan: str | None, plan_status: str | None) -> int:
    """The raw window of a channel on this plan (a canceled or unknown plan: free's)."""
    if plan is None or plan_status == "canceled":
        return RAW_WINDOW_DAYS["free"]
    return RAW_WINDOW_DAYS.get(plan, RAW_WINDOW_DAYS["free"])


def zone(name: str) -> ZoneInfo:
    """The IANA time zone of this name; ValueError if there is none."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise ValueError("unknown time zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:
        raise ValueError("unknown time zone") from e


@dataclass(frozen=True)
class Period:
    first: date
    last: date
    tz: str = "UTC"

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) in UTC: local midnight of the first day to that after the last."""
        z = zone(self.tz)
        start = datetime.combine(self.first, time(), z)
        end = datetime.combine(self.last + timedelta(days=1), time(), z)
        return start.astimezone(UTC), end.astimezone(UTC)

    def utc_days(self) -> bool:
        """Do the local days of the period coincide with UTC days (the rollups' days)?"""
        z = zone(self.tz)
        edges = [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 2)]
        return all(datetime.combine(d, time(), z).utcoffset() == timedelta(0) for d in edges)


def period_problem(first: date | None, last: date | None) -> str | None:
    """Why the asked range is not a period (None: it is one)."""
    if any(d is not None and not FIRST_DAY <= d <= LAST_DAY for d in (first, last)):
        return f"Days are from {FIRST_DAY} to {LAST_DAY}."
    if first is not None and last is not None:
        if first > last:
            return "`from` is after `to`."
        if (last - first).days + 1 > MAX_DAYS:
            return f"A period is at most {MAX_DAYS} days."
    return None


def period(first: date | None, last: date | None, *, tz: str, today: date) -> Period:
    """The period asked for; `to` defaults to today (in `tz`), `from` to the DEFAULT_DAYS days
    ending on `to`. ValueError when it is not one."""
    zone(tz)
    last = last or today
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    problem = period_problem(first, last)
    if problem:
        raise ValueError(problem)
    return Period(first, last, tz)


def money(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Revenue per currency from ledger totals `{currency, kind, amount}` (signed integer minor
    units, the channel's point of view): gross sales, fees and refunds (net of disputes won)
    as positive amounts, and net = what the channel keeps. Sorted by currency."""
    by: dict[str, dict[str, int]] = {}
    for r in rows:
        kind, amount = r["kind"], int(r["amount"])
        if kind not in REVENUE_KINDS:
            continue
        cur = by.setdefault(r["currency"], {"gross": 0, "fees": 0, "refunds": 0, "net": 0})
        if kind in GROSS_KINDS:
            cur["gross"] += amount
        elif kind in FEE_KINDS:
            cur["fees"] -= amount
        else:
            cur["refunds"] -= amount
        cur["net"] += amount
    return [{"currency": c, **v} for c, v in sorted(by.items())]


def attendance_rates(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`[{batch_id, rate}]` sorted by batch: attended / expected student-sessions, in [0, 1]."""
    by: dict[str, list[int]] = {}
    for r in rows:
        acc = by.setdefault(str(r["batch_id"]), [0, 0])
        acc[0] += int(r["attended"])
        acc[1] += int(r["expected"])
    return [
        {"batch_id": b, "rate": round(min(a, e) / e, 4)}
        for b, (a, e) in sorted(by.items())
        if e > 0
    ]


def seconds(value: Any) -> float:
    return float(round(Decimal(str(value or 0)), 3))


def summary(
    p: Period,
    *,
    events: Iterable[Mapping[str, Any]],
    enrollments: Iterable[Mapping[str, Any]],
    ledger: Iterable[Mapping[str, Any]],
    certificates: Iterable[Mapping[str, Any]] = (),
    attendance: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The KPI summary of a period.

    `events`: rows `{day, event_type, events, watch_seconds}` (several rows per day and type
    add up); `enrollments`: `{day, enrollments}`; `ledger`: `{day, currency, kind, amount}`;
    `certificates`: `{day, issued, views}`; `attendance`: `{batch_id, attended, expected}`
    (the period's attended student-sessions of a batch out of those expected), rate rounded
    to 4 decimals, batches with nothing expected left out. Rows of days outside the period
    are ignored.
    """
    days = p.days
    zero: dict[str, Any] = {"watch_seconds": Decimal(0), **dict.fromkeys(COUNTS, 0)}
    per_day = {d: dict(zero) for d in days}
    for r in events:
        fig = per_day.get(r["day"])
        if fig is None:
            continue
        fig["watch_seconds"] += Decimal(str(r["watch_seconds"] or 0))
        kpi = EVENT_KPIS.get(r["event_type"])
        if kpi:
            fig[kpi] += int(r["events"])
    for r in enrollments:
        if r["day"] in per_day:
            per_day[r["day"]]["enrollments"] += int(r["enrollments"])
    for r in certificates:
        if r["day"] in per_day:
            per_day[r["day"]]["certificates_issued"] += int(r["issued"])
            per_day[r["day"]]["certificate_views"] += int(r["views"])
    ledger_rows = [r for r in ledger if r["day"] in per_day]
    ledger_by_day: dict[date, list[Mapping[str, Any]]] = {}
    for r in ledger_rows:
        ledger_by_day.setdefault(r["day"], []).append(r)
    series = [
        {
            "day": d.isoformat(),
            "watch_seconds": seconds(per_day[d]["watch_seconds"]),
            **{k: per_day[d][k] for k in COUNTS},
            "revenue": money(ledger_by_day.get(d, [])),
        }
        for d in days
    ]
    total_watch = sum((per_day[d]["watch_seconds"] for d in days), Decimal(0))
    return {
        "from": p.first.isoformat(),
        "to": p.last.isoformat(),
        "tz": p.tz,
        "watch_seconds": seconds(total_watch),
        **{k: sum(per_day[d][k] for d in days) for k in COUNTS},
        "attendance_rate": attendance_rates(attendance),
        "revenue": money(ledger_rows),
        "series": series,
    }


# -- CSV --------------------------------------------------------------------------------------
KINDS = ("daily", "revenue")
DAILY_COLUMNS = ("day", "watch_seconds", *COUNTS)
REVENUE_COLUMNS = ("day", "currency", "gross", "fees", "refunds", "net")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text, never runs: text starting with = + - @ tab or CR is
    prefixed with an apostrophe (OWASP CSV injection). Numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        text = str(value)
        return "'" + text if text.startswith(FORMULA_PREFIXES) else text
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """RFC 4180 CSV (CRLF, quotes where needed) with every cell made safe by `csv_cell`."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow([csv_cell(h) for h in header])
    for row in rows:
        w.writerow([csv_cell(v) for v in row])
    return out.getvalue()


def export_rows(s: Mapping[str, Any], kind: str) -> tuple[Sequence[str], list[list[Any]]]:
    """The CSV of a summary: `daily` (one row a day) or `revenue` (a day and currency)."""
    if kind == "daily":
        return DAILY_COLUMNS, [[d[c] for c in DAILY_COLUMNS] for d in s["series"]]
    if kind == "revenue":
        return REVENUE_COLUMNS, [
            [d["day"], *(m[c] for c in REVENUE_COLUMNS[1:])]
            for d in s["series"]
            for m in d["revenue"]
        ]
    raise ValueError(f"unknown export kind {kind!r}")
