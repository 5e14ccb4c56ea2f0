"""Use cases of search: answer a query (GET /v1/search) and keep the index in step with the
domain events (function search_indexer). Both go through the SearchIndex port."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, TypedDict

from shared.platform.errors import Unprocessable
from shared.platform.pagination import decode_cursor, encode_cursor
from shared.search.index import Hit, search_index
from shared.search.rules import RANK_CAP, normalize_query, parse_event, query_problem

log = logging.getLogger("search")


class SearchPage(TypedDict):
    items: list[Hit]
    next_cursor: str | None


def search(
    *,
    q: str,
    user_id: str | None,
    channel_id: str | None = None,
    doc_type: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> SearchPage:
    """Ranked hits the caller may see: of one channel (as its member, or the public), or the
    published content of every channel. The cursor is the offset into the ranking, which is
    capped (rules.RANK_CAP), so pages stay cheap."""
    problem = query_problem(q)
    if problem:
        raise Unprocessable(f"q {problem}.", errors=[{"loc": ["query", "q"], "msg": problem}])
    offset = _offset(cursor)
    hits = search_index().search(
        query=normalize_query(q),
        doc_type=doc_type,
        channel_id=channel_id,
        user_id=user_id,
        limit=limit + 1,
        offset=offset,
    )
    more = len(hits) > limit and offset + limit < RANK_CAP
    return {
        "items": hits[:limit],
        "next_cursor": encode_cursor({"o": offset + limit}) if more else None,
    }


def _offset(cursor: str | None) -> int:
    after = decode_cursor(cursor)
    if after is None:
        return 0
    value = after.get("o")
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < RANK_CAP:
        raise Unprocessable(
            "Invalid cursor.", errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}]
        )
    return value


def on_domain_event(*, envelope: Any, attributes: Mapping[str, str]) -> str:
    """Entry for search_indexer, given its Pub/Sub push decoded: reindex the document the
    event touched. Returns what happened: indexed, duplicate, ignored or malformed (acked:
    it will never parse). Database errors raise, so Pub/Sub redelivers."""
    parsed = parse_event(envelope)
    if parsed is None:
        return "ignored"
    if isinstance(parsed, str):
        log.warning("malformed domain event dropped by search_indexer: %s", parsed)
        return "malformed"
    event_id, channel_id, kind, doc_id = parsed
    if attributes.get("channel_id") not in (None, channel_id):
        log.warning("event %s: attribute and body name different channels; dropped", event_id)
        return "malformed"
    done = search_index().reindex(event_id=event_id, channel_id=channel_id, kind=kind,
                                  doc_id=doc_id)  # fmt: skip
    return "indexed" if done else "duplicate"
