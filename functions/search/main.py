"""HTTP route: GET /v1/search, ranked full-text search of what the caller may see."""

import functions_framework

from shared import search
from shared.search.schemas import (
    SearchQuery,
    SearchResults,
    SearchSettingsIn,
    SearchSettingsOut,
)
from shared.web import Api, Ctx

api = Api("search", tag="Search")


@api.route(
    "GET",
    "/v1/search",
    query=SearchQuery,
    response=SearchResults,
    auth="optional",
    summary="Search channels, courses, lessons and posts (one channel, or published ones of all)",
    errors={404: "No such channel"},
)
def search_content(ctx: Ctx) -> search.SearchPage:
    q = ctx.query
    return search.search(
        q=q.q,
        user_id=ctx.user_id,
        channel_id=q.channel_id,
        doc_type=q.type,
        limit=q.limit,
        cursor=q.cursor,
    )


@api.route(
    "GET",
    "/v1/channels/{channel_id}/search-settings",
    response=SearchSettingsOut,
    errors={403: "Not staff of this channel", 404: "No such channel"},
    summary="The channel's search language",
)
def get_search_settings(ctx: Ctx):
    return search.get_settings(channel_id=ctx.params["channel_id"], user_id=ctx.require_user())


@api.route(
    "PUT",
    "/v1/channels/{channel_id}/search-settings",
    body=SearchSettingsIn,
    response=SearchSettingsOut,
    errors={
        403: "Not an owner or admin of this channel",
        404: "No such channel",
        422: "Not a supported language",
    },
    summary="Set the channel's search language (stemming, stop words); reindexes its documents",
)
def put_search_settings(ctx: Ctx):
    return search.put_settings(
        channel_id=ctx.params["channel_id"], user_id=ctx.require_user(), body=ctx.body
    )


handle_search = functions_framework.http(api)
