"""The port search runs through: a `SearchIndex` answers queries and keeps documents in step
with their sources. `PostgresSearchIndex` (shared.search.postgres) is the one adapter today; a
search engine would be a second one (docs/DEPLOY.md, "Search"), and nothing in the functions
changes."""

from __future__ import annotations

from typing import Protocol, TypedDict


class Hit(TypedDict):
    type: str
    id: str
    channel_id: str
    title: str
    snippet: str  # HTML: escaped text, matches in <mark>


class SearchIndex(Protocol):
    def search(
        self,
        *,
        query: str,
        doc_type: str | None,
        channel_id: str | None,
        user_id: str | None,
        limit: int,
        offset: int,
    ) -> list[Hit]:
        """Up to `limit` hits after `offset`, best first, only what the caller may see: with
        `channel_id`, that channel as its member (or the public) sees it; without, published
        content of every channel."""
        ...

    def set_language(self, *, channel_id: str, language: str) -> int:
        """Index the channel's documents with this text search configuration from now on
        (stemming, stop words); returns how many documents changed."""
        ...

    def reindex(self, *, event_id: str, channel_id: str, kind: str, doc_id: str) -> bool:
        """Bring one document (and, for a course, its lessons) in step with its source, as
        the event `event_id` left it; False when that event was already applied."""
        ...


def search_index() -> SearchIndex:
    """The deployment's index (Postgres full-text search)."""
    from shared.search.postgres import PostgresSearchIndex

    return PostgresSearchIndex()
