"""HTTP, public: server-rendered channel landing pages and course pages (HTML, cacheable)."""

import functions_framework
from flask import Response

from shared import pages
from shared.web import Api, Ctx

api = Api("pages", tag="Public pages")
HTML = {"type": "string", "contentMediaType": "text/html"}


def _answer(page: pages.Page) -> Response:
    return Response(page.body, status=page.status, headers=page.headers)


@api.route(
    "GET",
    "/ch/{slug}",
    auth="none",
    content_type="text/html",
    response=HTML,
    summary="Landing page of a channel, styled by its theme",
    errors={404: "No such channel"},
)
def channel_page(ctx: Ctx) -> Response:
    return _answer(
        pages.channel_page(
            slug=ctx.params["slug"], if_none_match=ctx.request.headers.get("If-None-Match")
        )
    )


@api.route(
    "GET",
    "/ch/{slug}/courses/{course_id}",
    auth="none",
    content_type="text/html",
    response=HTML,
    summary="Public page of a published course",
    errors={404: "No such channel or published course"},
)
def course_page(ctx: Ctx) -> Response:
    return _answer(
        pages.course_page(
            slug=ctx.params["slug"],
            course_id=ctx.params["course_id"],
            if_none_match=ctx.request.headers.get("If-None-Match"),
        )
    )


handle_pages = functions_framework.http(api)
