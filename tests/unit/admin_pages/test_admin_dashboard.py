"""The dashboard's charts and revenue table from a summary (shared/admin_pages/dashboard.py):
one chart per figure and per currency, money in the currency's own unit."""

from __future__ import annotations

from shared.admin_pages import dashboard


def _day(day: str, watch: float, revenue: list[dict]) -> dict:
    return {
        "day": day,
        "watch_seconds": watch,
        "enrollments": 1,
        "lesson_completions": 2,
        "course_completions": 0,
        "resource_downloads": 0,
        "certificates_issued": 0,
        "certificate_views": 0,
        "revenue": revenue,
    }


def _rev(currency: str, net: int) -> dict:
    return {"currency": currency, "gross": net + 100, "fees": 100, "refunds": 0, "net": net}


SUMMARY = {
    "revenue": [_rev("usd", 123450), _rev("jpy", 5000)],
    "series": [
        _day("2026-01-01", 600, [_rev("usd", 123450)]),
        _day("2026-01-02", 90, [_rev("jpy", 5000)]),
    ],
}


def test_money_is_shown_in_the_currencys_unit():
    assert dashboard.money(123450, "usd") == "1,234.50"
    assert dashboard.money(5000, "jpy") == "5,000"
    assert dashboard.major(5000, "JPY") == 5000
    assert dashboard.major(250, "eur") == 2.5


def test_revenue_rows_per_currency():
    rows = dashboard._revenue_rows(SUMMARY)
    assert rows[0] == {
        "currency": "USD",
        "gross": "1,235.50",
        "fees": "1.00",
        "refunds": "0.00",
        "net": "1,234.50",
    }
    assert rows[1]["currency"] == "JPY" and rows[1]["net"] == "5,000"


def test_one_chart_per_figure_and_per_currency():
    charts = dashboard._charts(SUMMARY)
    ids = [c["id"] for c in charts]
    assert ids == [
        "watch-minutes",
        "enrollments",
        "lesson-completions",
        "course-completions",
        "revenue-jpy",
        "revenue-usd",
    ]
    watch = charts[0]
    assert watch["rows"] == [("2026-01-01", "10"), ("2026-01-02", "1.5")]  # minutes
    jpy = charts[4]
    assert jpy["rows"] == [("2026-01-01", "0"), ("2026-01-02", "5,000")]
    usd = charts[5]
    assert usd["rows"] == [("2026-01-01", "1,234.5"), ("2026-01-02", "0")]
    for c in charts:
        assert c["svg"].startswith("<svg") and f'id="{c["id"]}-title"' in c["svg"]
