"""Creator KPI rules: the period, the summary assembled from per-day figures, revenue per
currency, and CSV cells a spreadsheet never runs."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from shared.analytics import rules
from shared.analytics.rules import Period

D1, D2, D3 = date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)


def test_period_defaults_to_the_30_days_ending_today():
    p = rules.period(None, None, tz="UTC", today=D3)
    assert (p.first, p.last, len(p.days)) == (date(2026, 3, 1), D3, 30)
    assert rules.period(D1, None, tz="UTC", today=D3).days == [D1, D2, D3]


@pytest.mark.parametrize(
    ("first", "last", "problem"),
    [
        (D2, D1, "`from` is after `to`."),
        (date(2025, 1, 1), date(2026, 1, 2), "A period is at most 366 days."),
        (date(2025, 1, 1), date(2026, 1, 1), None),  # 366 days
        (date(2024, 1, 1), date(2024, 12, 31), None),  # leap year: 366 days
        (D1, D1, None),
        (date(1, 1, 1), date(1, 1, 2), "Days are from 2000-01-01 to 2199-12-31."),
        (None, date(9999, 12, 31), "Days are from 2000-01-01 to 2199-12-31."),
        (date(2199, 12, 31), None, None),
    ],
)
def test_period_problems(first, last, problem):
    assert rules.period_problem(first, last) == problem


def test_period_rejects_bad_ranges_and_unknown_zones():
    with pytest.raises(ValueError, match="after"):
        rules.period(D2, D1, tz="UTC", today=D3)
    for bad in ("Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "x" * 65):
        with pytest.raises(ValueError, match="unknown time zone"):
            rules.zone(bad)


def test_bounds_are_local_midnights_and_utc_days_only_when_offsets_are_zero():
    p = Period(D1, D2, "Europe/Paris")  # DST starts on 2026-03-29: a 23-hour day
    lo, hi = p.bounds()
    assert lo == datetime(2026, 3, 27, 23, tzinfo=UTC)
    assert hi == datetime(2026, 3, 29, 22, tzinfo=UTC)
    assert not p.utc_days()
    assert Period(D1, D2).utc_days()
    assert Period(D1, D2, "Etc/UTC").utc_days()
    # London is on UTC in winter, on BST after 2026-03-29 01:00 UTC
    assert Period(date(2026, 1, 1), date(2026, 1, 31), "Europe/London").utc_days()
    assert not Period(D1, D3, "Europe/London").utc_days()


def test_money_per_currency_in_integer_minor_units():
    rows = [
        {"currency": "usd", "kind": "sale", "amount": 10000},
        {"currency": "usd", "kind": "sale", "amount": 2500},
        {"currency": "usd", "kind": "platform_fee", "amount": -1250},
        {"currency": "usd", "kind": "refund", "amount": -2500},
        {"currency": "usd", "kind": "dispute", "amount": -10000},
        {"currency": "usd", "kind": "dispute_won", "amount": 10000},
        {"currency": "eur", "kind": "sale", "amount": 900},
        {"currency": "usd", "kind": "plan_invoice", "amount": -2900},  # not course revenue
    ]
    assert rules.money(rows) == [
        {"currency": "eur", "gross": 900, "fees": 0, "refunds": 0, "net": 900},
        {"currency": "usd", "gross": 12500, "fees": 1250, "refunds": 2500, "net": 8750},
    ]
    assert rules.money([]) == []


def ev(day, event_type, events, watch_seconds):
    return {"day": day, "event_type": event_type, "events": events, "watch_seconds": watch_seconds}


def test_summary_adds_up_by_day_and_fills_every_day_of_the_period():
    p = Period(D1, D3)
    events = [
        ev(D1, "lesson.heartbeat", 3, Decimal("10.5")),
        ev(D1, "lesson.heartbeat", 1, Decimal("0.25")),
        ev(D1, "lesson.completed", 2, 0),
        ev(D3, "course.completed", 1, None),
        ev(D3, "resource.downloaded", 4, 0),
        ev(D3, "lesson.heartbeat", 2, Decimal("4.001")),
        {
            "day": date(2026, 4, 1),
            "event_type": "lesson.completed",
            "events": 9,
            "watch_seconds": 9,
        },
    ]
    enrollments = [{"day": D2, "enrollments": 3}, {"day": date(2026, 1, 1), "enrollments": 7}]
    ledger = [
        {"day": D2, "currency": "usd", "kind": "sale", "amount": 5000},
        {"day": D2, "currency": "usd", "kind": "platform_fee", "amount": -500},
        {"day": D3, "currency": "usd", "kind": "refund", "amount": -1000},
        {"day": date(2026, 4, 1), "currency": "usd", "kind": "sale", "amount": 99},
    ]
    s = rules.summary(p, events=events, enrollments=enrollments, ledger=ledger)
    assert (s["from"], s["to"], s["tz"]) == ("2026-03-28", "2026-03-30", "UTC")
    assert s["watch_seconds"] == 14.751
    assert (s["lesson_completions"], s["course_completions"], s["resource_downloads"]) == (2, 1, 4)
    assert s["enrollments"] == 3
    assert (s["certificates_issued"], s["certificate_views"], s["attendance_rate"]) == (0, 0, [])
    assert s["revenue"] == [
        {"currency": "usd", "gross": 5000, "fees": 500, "refunds": 1000, "net": 3500}
    ]
    assert [d["day"] for d in s["series"]] == ["2026-03-28", "2026-03-29", "2026-03-30"]
    d1, d2, d3 = s["series"]
    assert (d1["watch_seconds"], d1["lesson_completions"], d1["revenue"]) == (10.75, 2, [])
    assert (d2["watch_seconds"], d2["enrollments"], d2["lesson_completions"]) == (0.0, 3, 0)
    assert d2["revenue"] == [
        {"currency": "usd", "gross": 5000, "fees": 500, "refunds": 0, "net": 4500}
    ]
    assert (d3["watch_seconds"], d3["course_completions"], d3["resource_downloads"]) == (
        4.001,
        1,
        4,
    )
    assert d3["revenue"][0]["refunds"] == 1000


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("usd", "usd"),
        ("a=b", "a=b"),
        (None, ""),
        (-500, -500),  # numbers are numbers, never formulas
        (1.5, 1.5),
    ],
)
def test_csv_cells_never_start_a_formula(value, cell):
    assert rules.csv_cell(value) == cell


def test_csv_is_quoted_crlf_and_reads_back():
    text = rules.to_csv(["day", "note"], [["2026-03-28", 'say "hi", =1+1\nnext'], ["x", -5]])
    assert text.startswith("day,note\r\n")
    assert '"say ""hi"", =1+1\nnext"' in text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [["day", "note"], ["2026-03-28", 'say "hi", =1+1\nnext'], ["x", "-5"]]
    assert rules.to_csv(["a"], [["=cmd"]]) == "a\r\n'=cmd\r\n"


def test_export_rows_daily_and_revenue():
    p = Period(D1, D2)
    ledger = [
        {"day": D2, "currency": "usd", "kind": "sale", "amount": 700},
        {"day": D2, "currency": "eur", "kind": "sale", "amount": 300},
    ]
    s = rules.summary(p, events=[], enrollments=[{"day": D1, "enrollments": 1}], ledger=ledger)
    header, rows = rules.export_rows(s, "daily")
    assert header[:3] == ("day", "watch_seconds", "lesson_completions")
    assert rows == [["2026-03-28", 0.0, 0, 0, 1, 0, 0, 0], ["2026-03-29", 0.0, 0, 0, 0, 0, 0, 0]]
    header, rows = rules.export_rows(s, "revenue")
    assert header == ("day", "currency", "gross", "fees", "refunds", "net")
    assert rows == [["2026-03-29", "eur", 300, 0, 0, 300], ["2026-03-29", "usd", 700, 0, 0, 700]]
    with pytest.raises(ValueError):
        rules.export_rows(s, "users")


def test_attendance_rate_per_batch_adds_up_sessions_and_skips_batches_with_none():
    rows = [
        {"batch_id": "b2", "attended": 3, "expected": 4},
        {"batch_id": "b1", "attended": 1, "expected": 3},
        {"batch_id": "b2", "attended": 2, "expected": 2},
        {"batch_id": "b3", "attended": 0, "expected": 0},
    ]
    assert rules.attendance_rates(rows) == [
        {"batch_id": "b1", "rate": 0.3333},
        {"batch_id": "b2", "rate": round(5 / 6, 4)},
    ]
    # never above 1, whatever a source counts twice
    assert rules.attendance_rates([{"batch_id": "b", "attended": 5, "expected": 4}]) == [
        {"batch_id": "b", "rate": 1.0}
    ]


def test_certificates_land_on_their_days():
    p = rules.Period(date(2026, 1, 1), date(2026, 1, 2))
    s = rules.summary(
        p,
        events=[],
        enrollments=[],
        ledger=[],
        certificates=[
            {"day": date(2026, 1, 2), "issued": 2, "views": 5},
            {"day": date(2025, 12, 31), "issued": 9, "views": 9},  # outside: ignored
        ],
    )
    assert (s["certificates_issued"], s["certificate_views"]) == (2, 5)
    assert [(d["certificates_issued"], d["certificate_views"]) for d in s["series"]] == [
        (0, 0),
        (2, 5),
    ]
