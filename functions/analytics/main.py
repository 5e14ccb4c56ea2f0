"""HTTP route family: a channel's KPI summary and its CSV export (staff only)."""

import functions_framework
from flask import Response

from shared import analytics
from shared.analytics.schemas import (
    ExportQuery,
    SettingsIn,
    SettingsOut,
    SummaryOut,
    SummaryQuery,
)
from shared.web import Api, Ctx

api = Api("analytics", tag="Analytics")
C = "/v1/channels/{channel_id}"
ERRORS = {
    403: "Not staff of this channel",
    404: "No such channel, course or batch",
    # a refusal no schema can express (issue 17): one parameter against the other
    422: "Validation failed, or a period (`from` to `to`) longer than 366 days",
}


@api.route(
    "GET",
    C + "/analytics/summary",
    query=SummaryQuery,
    response=SummaryOut,
    errors=ERRORS,
    summary="KPIs of a period: totals, revenue per currency and a series by day",
)
def summary(ctx: Ctx):
    return analytics.summary(
        channel_id=ctx.params["channel_id"], user_id=ctx.require_user(), query=ctx.query
    )


@api.route(
    "GET",
    C + "/analytics/export.csv",
    query=ExportQuery,
    content_type="text/csv",
    errors=ERRORS,
    summary="The summary's series as CSV (kind: daily or revenue)",
)
def export_csv(ctx: Ctx) -> Response:
    out = analytics.export_csv(
        channel_id=ctx.params["channel_id"], user_id=ctx.require_user(), query=ctx.query
    )
    return Response(
        out["body"],
        status=200,
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{out["filename"]}"',
            "Cache-Control": "private, no-store",
        },
    )


@api.route(
    "GET",
    C + "/analytics/settings",
    response=SettingsOut,
    errors={403: "Not staff of this channel", 404: "No such channel"},
    summary="The channel's analytics settings (the time zone of its days)",
)
def get_analytics_settings(ctx: Ctx):
    return analytics.get_settings(channel_id=ctx.params["channel_id"], user_id=ctx.require_user())


@api.route(
    "PUT",
    C + "/analytics/settings",
    body=SettingsIn,
    response=SettingsOut,
    errors={
        403: "Not an owner or admin of this channel",
        404: "No such channel",
        422: "Not an IANA time zone",
    },
    summary="Set the time zone of the channel's analytics days (owner or admin)",
)
def put_analytics_settings(ctx: Ctx):
    return analytics.put_settings(
        channel_id=ctx.params["channel_id"], user_id=ctx.require_user(), body=ctx.body
    )


handle_analytics = functions_framework.http(api)
