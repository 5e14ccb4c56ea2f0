"""Community rules: Markdown to safe HTML, mentions, threading, reactions, who sees a space,
spam checks, flags and moderation transitions. Pure: no I/O.

Markdown is parsed by markdown-it-py (CommonMark, raw HTML off) and the result cleaned by nh3
(the Rust `ammonia` sanitiser) with an allow-list: no scripts, no event handlers, no style, no
`javascript:`/`data:` URLs, and no images at all (a remote image is a tracking pixel; our own
media is linked, not embedded). Every link gets `rel="nofollow ugc noopener"`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import nh3
from markdown_it import MarkdownIt

MAX_POST_BODY = 20_000
MAX_COMMENT_BODY = 5_000
MAX_TITLE = 200
MAX_REASON = 500
MAX_MENTIONS = 20  # mentions beyond this many in one text notify nobody more

# One reaction per member, post and kind; the kinds are fixed so counts stay comparable.
REACTION_KINDS: tuple[str, ...] = ("like", "love", "laugh", "celebrate", "insightful", "question")

TargetType = Literal["post", "comment"]
Action = Literal["remove", "restore", "dismiss", "ban_user"]
ACTIONS: tuple[str, ...] = ("remove", "restore", "dismiss", "ban_user")
Status = Literal["visible", "hidden", "removed", "deleted"]
NOTIFICATION_KINDS: tuple[str, ...] = ("reply", "mention", "moderation", "live_session")


@dataclass(frozen=True)
class Settings:
    """A channel's community settings (table community_settings; these are its defaults)."""

    auto_hide_threshold: int = 3
    blocked_words: tuple[str, ...] = ()
    new_member_days: int = 7
    new_member_max_links: int = 2


DEFAULT_SETTINGS = Settings()

# -- Markdown -> HTML -------------------------------------------------------------------------
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)
ALLOWED_TAGS = frozenset(
    {
        "p",
        "br",
        "hr",
        "strong",
        "em",
        "del",
        "s",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "a",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    }
)
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow ugc noopener"

# `@[Display Name](user-uuid)`: users have no unique handle, display names are not unique, so a
# mention names the member by id (a client's autocomplete writes it); it renders as `@Name`.
MENTION = re.compile(
    r"@\[(?P<name>[^\]\n]{1,100})\]\((?P<id>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}"
    r"-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\)"
)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")


def _escape_md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def render_markdown(text: str) -> str:
    """Sanitised HTML of a Markdown text (mentions shown as `@Name`)."""
    text = MENTION.sub(lambda m: "@" + _escape_md(m.group("name")), text)
    raw = _md.render(text)
    return nh3.clean(
        raw,
        tags=set(ALLOWED_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    ).strip()


def mentioned_user_ids(text: str) -> list[str]:
    """The distinct user ids mentioned in `text`, in order of appearance, at most MAX_MENTIONS."""
    seen: list[str] = []
    for m in MENTION.finditer(text):
        uid = m.group("id").lower()
        if uid not in seen:
            seen.append(uid)
            if len(seen) == MAX_MENTIONS:
                break
    return seen


def plain_excerpt(text: str, limit: int = 200) -> str:
    """A one-line excerpt of Markdown source for queues, notifications and mail."""
    text = MENTION.sub(lambda m: "@" + m.group("name"), text)
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


# -- threading --------------------------------------------------------------------------------
def thread_parent(parent_id: str | None, parent_parent_id: str | None) -> str | None:
    """Comments thread one level. A reply to a reply attaches to that reply's top-level parent
    (the conversation stays together instead of refusing the reply)."""
    if parent_id is None:
        return None
    return parent_parent_id or parent_id


# -- who sees what ----------------------------------------------------------------------------
def space_visible(
    *, role: str | None, audience_kind: str, enrolled_in_course: bool, enrolled_in_batch: bool
) -> bool:
    """The Python copy of SQL community_space_visible(): staff see every space; a student sees
    members spaces, and course/batch spaces where they hold an active enrollment."""
    if role is None:
        return False
    if role != "student":
        return True
    if audience_kind == "members":
        return True
    if audience_kind == "course":
        return enrolled_in_course
    if audience_kind == "batch":
        return enrolled_in_batch
    return False


def listed(status: str, *, include_removed: bool) -> bool:
    """Whether a post or comment appears in lists: visible ones; moderators asking for
    `include=removed` also see hidden and removed ones (an author's delete is gone for all)."""
    if status == "visible":
        return True
    return include_removed and status in ("hidden", "removed")


# -- spam -------------------------------------------------------------------------------------
_LINK = re.compile(r"(?i)\b(?:https?://|www\.)|\]\(\s*<?//")  # absolute or //host links


def blocked_word(text: str, words: tuple[str, ...] | list[str]) -> str | None:
    """The first blocked word or phrase found in `text` (case-insensitive, whole words)."""
    lowered = text.casefold()
    for w in words:
        w = w.strip().casefold()
        if w and re.search(r"(?<!\w)" + re.escape(w) + r"(?!\w)", lowered):
            return w
    return None


def link_count(text: str) -> int:
    """Links in a Markdown source: URLs (bare, autolinked or in `[..](..)`) and protocol-relative
    `[..](//host)` links, each once. Raw HTML anchors are escaped, never links."""
    return len(_LINK.findall(text))


def is_new_member(joined_at: datetime, now: datetime, settings: Settings) -> bool:
    return now - joined_at < timedelta(days=settings.new_member_days)


def too_many_links(
    *, text: str, role: str, joined_at: datetime, now: datetime, settings: Settings
) -> bool:
    """New students (joined less than `new_member_days` ago) may put at most
    `new_member_max_links` links in one text; staff are trusted."""
    if role != "student" or not is_new_member(joined_at, now, settings):
        return False
    return link_count(text) > settings.new_member_max_links


# Per member (and channel) fixed-window limits, shared.platform.ratelimit syntax count/seconds.
RATE_LIMITS = {"post": "10/600", "comment": "30/300", "flag": "20/3600", "reaction": "120/60"}


# -- flags and moderation ---------------------------------------------------------------------
def should_auto_hide(*, open_distinct_flags: int, threshold: int, status: str) -> bool:
    """A visible target flagged by `threshold` distinct members is hidden until a moderator acts."""
    return status == "visible" and open_distinct_flags >= threshold


def status_after(action: str, current: str) -> str | None:
    """The target's status after a moderator's action, or None when the action cannot apply
    (an author's own delete is final; restoring what is visible does nothing)."""
    if current == "deleted":
        return None
    if action == "remove":
        return "removed"
    if action == "restore":
        return "visible" if current in ("hidden", "removed") else None
    if action == "dismiss":
        # Dismissing the reports of an auto-hidden target shows it again.
        return "visible" if current == "hidden" else current
    if action == "ban_user":
        # Banning the author also takes the flagged content down.
        return "removed"
    return None


def ban_ends(now: datetime, days: int) -> datetime:
    return now + timedelta(days=days)


def projection_event(status: str) -> str:
    """Which event a status change emits for the projection: only visible content is shown."""
    return "restored" if status == "visible" else "removed"
