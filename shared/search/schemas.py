"""Query and response of GET /v1/search."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from shared.platform.models import ListQuery, Model, Out
from shared.search.rules import LANGUAGES, MAX_QUERY_CHARS, query_problem


class SearchQuery(ListQuery):
    q: str = Field(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        description='Web-search syntax: "exact phrase", -excluded, a or b',
    )
    channel_id: str | None = Field(
        default=None,
        max_length=36,
        description="Search one channel (as its member, or the public); without it, "
        "published content of every channel",
    )
    type: Literal["channel", "course", "lesson", "post"] | None = None

    @field_validator("q")
    @classmethod
    def _searchable(cls, q: str) -> str:
        problem = query_problem(q)
        if problem:
            raise ValueError(problem)
        return q


class SearchHit(Out):
    type: Literal["channel", "course", "lesson", "post"]
    id: str
    channel_id: str
    title: str
    snippet: str = Field(description="HTML: the text escaped, matches in <mark>")


class SearchResults(Out):
    items: list[SearchHit]
    next_cursor: str | None


class SearchSettingsIn(Model):
    language: str = Field(
        description="Text search configuration of the channel's documents (stemming, stop"
        " words): " + ", ".join(LANGUAGES),
        json_schema_extra={"enum": list(LANGUAGES)},
    )

    @field_validator("language")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in LANGUAGES:
            raise ValueError("not a supported language")
        return v


class SearchSettingsOut(Out):
    language: str
