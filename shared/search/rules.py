"""Pure rules of search: the query's limits, which domain events touch which document, and
how a snippet is made safe to show. No I/O."""

from __future__ import annotations

import html
import re
from typing import Any, Literal

DocType = Literal["channel", "course", "lesson", "post"]
DOC_TYPES: tuple[str, ...] = ("channel", "course", "lesson", "post")

MAX_QUERY_CHARS = 256
# Full-text matches ranked per search: beyond this a common word is not ranked further, so it
# costs the same as a rare one (and pages end there).
RANK_CAP = 1000
# Fewer full-text hits than this and titles similar to the query (typos) are added after them:
# only when full text finds nothing, so a precise query ("a phrase", -word) stays precise.
FUZZY_BELOW = 1

# ts_headline puts these around each match (search_ranked removes them from the text first):
# private-use characters, so escaping the snippet never touches them.
START, STOP = "\ue000", "\ue001"

# The document each domain event touches: (kind, id field of the payload).
_TARGETS: dict[str, tuple[str, str]] = {
    "channel.created": ("channel", "channel_id"),
    "channel.updated": ("channel", "channel_id"),
    "course.created": ("course", "course_id"),
    "course.updated": ("course", "course_id"),
    "course.published": ("course", "course_id"),
    "course.archived": ("course", "course_id"),
    "lesson.created": ("lesson", "lesson_id"),
    "lesson.updated": ("lesson", "lesson_id"),
    "lesson.deleted": ("lesson", "lesson_id"),
    # community (shared.community): a visible post is a document, any other status is not
    "post.created": ("post", "post_id"),
    "post.updated": ("post", "post_id"),
    "post.removed": ("post", "post_id"),
    "post.restored": ("post", "post_id"),
}
# Text search configurations a channel may choose (search settings); 'simple' is no stemming.
LANGUAGES = (
    "simple", "arabic", "danish", "dutch", "english", "finnish", "french", "german", "greek",
    "hungarian", "indonesian", "irish", "italian", "lithuanian", "nepali", "norwegian",
    "portuguese", "romanian", "russian", "spanish", "swedish", "tamil", "turkish",
)  # fmt: skip
# A post's title when it has none: the start of its body.
POST_TITLE_CHARS = 120
INDEXED_EVENTS = frozenset(_TARGETS)

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SPACES = re.compile(r"\s+")


def normalize_query(q: str) -> str:
    """The query as searched: whitespace runs collapsed, ends trimmed."""
    return _SPACES.sub(" ", q).strip()


def query_problem(q: str) -> str | None:
    """Why a query cannot be searched, or None. Postgres text holds no NUL."""
    if "\x00" in q:
        return "must not contain NUL characters"
    if not normalize_query(q):
        return "must not be blank"
    if len(q) > MAX_QUERY_CHARS:
        return f"at most {MAX_QUERY_CHARS} characters"
    return None


def mark_snippet(raw: str | None) -> str:
    """ts_headline's fragment as HTML: the text escaped, then the matches wrapped in <mark>."""
    escaped = html.escape(raw or "", quote=True)
    return escaped.replace(START, "<mark>").replace(STOP, "</mark>")


def parse_event(envelope: Any) -> tuple[str, str, str, str] | str | None:
    """(event_id, channel_id, kind, document id) of a domain event that changes a document;
    None for an event search does not index; a string says why the envelope is malformed."""
    if not isinstance(envelope, dict):
        return "the envelope is not an object"
    event_type = envelope.get("type")
    if event_type not in _TARGETS:
        return None
    kind, field = _TARGETS[event_type]
    event_id, channel_id, data = (
        envelope.get("id"),
        envelope.get("channel_id"),
        envelope.get("data"),
    )
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 100:
        return "no event id"
    if not isinstance(channel_id, str) or not _UUID.fullmatch(channel_id):
        return "no channel id"
    if not isinstance(data, dict):
        return "no data"
    target = channel_id if kind == "channel" else data.get(field)
    if not isinstance(target, str) or not _UUID.fullmatch(target):
        return f"no {field}"
    return event_id, channel_id.lower(), kind, target.lower()
