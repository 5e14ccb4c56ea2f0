"""The creator's analytics dashboard (issue 14 item 3): the KPI summary of a period, filtered
by course and batch, drawn as SVG charts with a table of the same numbers, and the CSV export.

Figures come from `shared.analytics.summary` (its role check: analytics.read); the filter lists
from the catalog's own listings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError

from shared import analytics, billing, catalog
from shared.admin_pages import charts, rules
from shared.admin_pages.service import Page, StaffSession, nav, render
from shared.analytics.schemas import ExportQuery, SummaryQuery
from shared.platform.errors import DomainError

FILTERS = ("from", "to", "course_id", "batch_id")
CHARTS = (  # series field, chart title, y axis label, colour
    ("watch_minutes", "Watch time per day", "minutes", "#4f46e5"),
    ("enrollments", "Enrollments per day", "enrollments", "#0f766e"),
    ("lesson_completions", "Lesson completions per day", "lessons completed", "#b45309"),
    ("course_completions", "Course completions per day", "courses completed", "#be123c"),
)


def _filters(params: Mapping[str, str]) -> dict[str, str]:
    return {k: params[k].strip() for k in FILTERS if (params.get(k) or "").strip()}


def _error_text(e: ValidationError) -> str:
    msgs = []
    for err in e.errors(include_url=False, include_context=False, include_input=False):
        where = ".".join(str(x) for x in err["loc"])
        msgs.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "; ".join(msgs)


def _options(session: StaffSession, course_id: str | None) -> tuple[list[Any], list[Any]]:
    """The channel's courses, and the batches of the chosen course, for the filter lists."""
    courses = catalog.list_courses(
        channel_id=session.channel_id, user_id=session.user_id, limit=100, cursor=None
    )["items"]
    batches: list[Any] = []
    if course_id and any(str(c["id"]) == course_id for c in courses):
        batches = catalog.list_batches(
            channel_id=session.channel_id,
            user_id=session.user_id,
            course_id=course_id,
            limit=100,
            cursor=None,
        )["items"]
    return courses, batches


def major(amount: int, currency: str) -> float:
    """Integer minor units in the currency's unit (a yen is its own minor unit)."""
    return amount if currency.lower() in billing.ZERO_DECIMAL else amount / 100


def money(amount: int, currency: str) -> str:
    """1,234.50 (or 1,234 for a zero-decimal currency): the table's cells."""
    zero = currency.lower() in billing.ZERO_DECIMAL
    return f"{major(amount, currency):,.0f}" if zero else f"{major(amount, currency):,.2f}"


def _revenue_rows(summary: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "currency": r["currency"].upper(),
            **{k: money(int(r[k]), r["currency"]) for k in ("gross", "fees", "refunds", "net")},
        }
        for r in summary["revenue"]
    ]


def _charts(summary: dict[str, Any]) -> list[dict[str, Any]]:
    series = summary["series"]
    out = []
    for key, title, y_label, colour in CHARTS:
        points = [
            (
                str(d["day"])[5:],  # MM-DD: the year is in the period shown above
                float(d["watch_seconds"]) / 60 if key == "watch_minutes" else float(d[key]),
            )
            for d in series
        ]
        out.append(
            {
                "id": key.replace("_", "-"),
                "title": title,
                "y_label": y_label,
                "svg": charts.bar_chart(
                    chart_id=key.replace("_", "-"),
                    title=title,
                    x_label="day",
                    y_label=y_label,
                    points=points,
                    colour=colour,
                ),
                "rows": [
                    (str(d["day"]), charts.fmt(v)) for d, (_, v) in zip(series, points, strict=True)
                ],
            }
        )
    currencies = sorted({r["currency"] for d in series for r in d["revenue"]})
    for cur in currencies:
        points = []
        for d in series:
            net = sum(r["net"] for r in d["revenue"] if r["currency"] == cur)
            points.append((str(d["day"])[5:], major(net, cur)))
        cid = f"revenue-{cur.lower()}"
        out.append(
            {
                "id": cid,
                "title": f"Net revenue per day ({cur.upper()})",
                "y_label": cur.upper(),
                "svg": charts.bar_chart(
                    chart_id=cid,
                    title=f"Net revenue per day ({cur.upper()})",
                    x_label="day",
                    y_label=f"net revenue, {cur.upper()}",
                    points=points,
                    colour="#15803d",
                ),
                "rows": [
                    (str(d["day"]), charts.fmt(v)) for d, (_, v) in zip(series, points, strict=True)
                ],
            }
        )
    return out


def analytics_page(*, session: StaffSession, params: Mapping[str, str]) -> Page:
    """The dashboard of the period and filters in `params` (a GET form)."""
    filters = _filters(params)
    courses, batches = _options(session, filters.get("course_id"))
    context: dict[str, Any] = {
        "title": f"Analytics · {session.channel_name}",
        "nav": nav(session, "analytics"),
        "filters": filters,
        "courses": courses,
        "batches": batches,
        "summary": None,
        "revenue": [],
        "charts": [],
        "error": "",
        "csv_daily": "",
        "csv_revenue": "",
        "api_csv": "",
    }
    try:
        query = SummaryQuery.model_validate(filters)
        summary = analytics.summary(
            channel_id=session.channel_id, user_id=session.user_id, query=query
        )
    except ValidationError as e:
        context["error"] = _error_text(e)
        return render("analytics.html", 422, **context)
    except DomainError as e:
        if e.status not in (404, 422):
            raise
        context["error"] = e.detail
        return render("analytics.html", e.status, **context)
    base = rules.admin_path(session.slug, "analytics/export.csv")
    shown = {
        "from": str(summary["from"]),
        "to": str(summary["to"]),
        **{k: v for k, v in filters.items() if k in ("course_id", "batch_id")},
    }
    context.update(
        summary=summary,
        revenue=_revenue_rows(summary),
        charts=_charts(summary),
        csv_daily=base + "?" + urlencode({**shown, "kind": "daily"}),
        csv_revenue=base + "?" + urlencode({**shown, "kind": "revenue"}),
        api_csv=f"/v1/channels/{session.channel_id}/analytics/export.csv?"
        + urlencode({**shown, "kind": "daily"}),
    )
    return render("analytics.html", 200, **context)


def analytics_csv(*, session: StaffSession, params: Mapping[str, str]) -> Page:
    """The export of the dashboard's period as CSV, for the browser session (the API route
    wants a bearer token a link cannot carry)."""
    wanted = {**_filters(params)}
    if (params.get("kind") or "").strip():
        wanted["kind"] = params["kind"].strip()
    try:
        query = ExportQuery.model_validate(wanted)
    except ValidationError as e:
        from shared.platform.errors import Unprocessable

        raise Unprocessable(_error_text(e)) from e
    out = analytics.export_csv(channel_id=session.channel_id, user_id=session.user_id, query=query)
    return Page(
        200,
        out["body"].encode(),
        [
            ("Content-Type", "text/csv; charset=utf-8"),
            ("Content-Disposition", f'attachment; filename="{out["filename"]}"'),
            ("Cache-Control", "private, no-store"),
        ],
    )
