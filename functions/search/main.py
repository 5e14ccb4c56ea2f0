"""HTTP route: GET /v1/search, ranked full-text search of what the caller may see."""

import functions_framework

from shared import search
from shared.search.schemas import SearchQuery, SearchResults
from shared.web import Api, Ctx

api = Api("search", tag="Search")


@api.route(
    "GET",
    "/v1/search",
    query=SearchQuery,
    response=SearchResults,
    auth="optional",
    summary="Search channels, courses and lessons (one channel, or published ones of all)",
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


handle_search = functions_framework.http(api)
