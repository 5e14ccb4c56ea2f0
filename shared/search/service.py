"""Use cases of search: answer a query (GET /v1/search) and keep the index in step with the
domain events (function search_indexer). Both go through the SearchIndex port."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, TypedDict

from shared.channels import check_channel_id, require
from shared.platform.audit import record_change
from shared.platform.db import transaction
from shared.platform.errors import Unprocessable
from shared.platform.pagination import decode_cursor, encode_cursor
from shared.search.index import Hit, search_index
from shared.search.rules import RANK_CAP, normalize_query, parse_event, query_problem
from shared.search.schemas import SearchSettingsIn

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


def get_settings(*, channel_id: str, user_id: str) -> dict[str, str]:
    """The channel's search settings (staff: course.read_drafts)."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "course.read_drafts")
        lang = tx.scalar("SELECT language::text FROM search_settings")
    return {"language": str(lang or "simple")}


def put_settings(*, channel_id: str, user_id: str, body: SearchSettingsIn) -> dict[str, str]:
    """Set the channel's search language (owner or admin) and reindex its documents with it:
    the stored tsvectors are regenerated in the same statement, so the next search uses it."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "channel.update")
        record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="search.settings_updated",
            target_type="channel",
            target_id=channel_id,
            payload={"channel_id": channel_id, "language": body.language},
            details={"language": body.language},
        )
    changed = search_index().set_language(channel_id=channel_id, language=body.language)
    log.info("channel %s search language %s: %d documents", channel_id, body.language, changed)
    return {"language": body.language}
