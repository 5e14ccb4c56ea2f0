"""HTTP route family: each user's private calendar feed of live classes (iCalendar)."""

import functions_framework
from flask import Response

from shared import live
from shared.live.schemas import CalendarFeed
from shared.web import Api, Ctx

api = Api("calendar", tag="Live classes")
ICS = {"type": "string", "contentMediaType": "text/calendar"}


@api.route(
    "GET",
    "/v1/me/calendar",
    response=CalendarFeed,
    summary="My private calendar feed URL (asking again revokes the previous one)",
)
def my_calendar(ctx: Ctx):
    return live.calendar_url(user_id=ctx.require_user())


@api.route(
    "GET",
    "/v1/calendar/{token}.ics",
    auth="none",
    content_type="text/calendar",
    response=ICS,
    errors={404: "No such calendar (a wrong, mangled or revoked URL)"},
    summary="The live classes of every batch the feed's holder is enrolled in or teaches",
)
def calendar_feed(ctx: Ctx) -> Response:
    body = live.calendar_feed(token=ctx.params["token"])
    return Response(
        body,
        status=200,
        content_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )


handle_calendar = functions_framework.http(api)
