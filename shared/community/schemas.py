"""Requests and answers of the community routes (answers are plain dicts; the `Out` models
describe them for the OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictBool, field_validator

from shared.community.rules import (
    MAX_COMMENT_BODY,
    MAX_POST_BODY,
    MAX_REASON,
    MAX_TITLE,
    REACTION_KINDS,
)
from shared.platform.models import ListQuery, Model, Out

Status = Literal["visible", "hidden", "removed", "deleted"]


class CourseAudience(Model):
    course_id: str = Field(min_length=36, max_length=36)


class BatchAudience(Model):
    batch_id: str = Field(min_length=36, max_length=36)


class SpaceIn(Model):
    name: str = Field(min_length=1, max_length=100)
    audience: Literal["members"] | CourseAudience | BatchAudience = Field(
        default="members",
        description='"members" (every member), {course_id} (its enrolled students) or '
        "{batch_id} (that batch's students); staff see every space",
    )


class SpaceOut(Out):
    id: str
    name: str
    audience_kind: Literal["members", "course", "batch"]
    course_id: str | None
    batch_id: str | None
    created_at: str


class SpaceList(Out):
    items: list[SpaceOut]


class PostIn(Model):
    title: str = Field(default="", max_length=MAX_TITLE)
    body: str = Field(
        min_length=1,
        max_length=MAX_POST_BODY,
        description="Markdown; mention a member as `@[Display Name](user_id)`",
    )


class PostPatch(Model):
    title: str | None = Field(default=None, max_length=MAX_TITLE)
    body: str = Field(min_length=1, max_length=MAX_POST_BODY)


class PinIn(Model):
    pinned: bool


class CommentIn(Model):
    body: str = Field(min_length=1, max_length=MAX_COMMENT_BODY)
    parent_id: str | None = Field(
        default=None,
        description="A comment of the same post; a reply to a reply attaches to its top-level "
        "comment (threads are one level deep)",
    )


class CommentPatch(Model):
    body: str = Field(min_length=1, max_length=MAX_COMMENT_BODY)


class ReactionIn(Model):
    kind: str = Field(
        description="One of: " + ", ".join(REACTION_KINDS),
        json_schema_extra={"enum": list(REACTION_KINDS)},
    )

    @field_validator("kind")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in REACTION_KINDS:
            raise ValueError(f"unknown reaction kind; known: {', '.join(REACTION_KINDS)}")
        return v


class FlagIn(Model):
    reason: str = Field(min_length=1, max_length=MAX_REASON)


class ModerationActionIn(Model):
    target_type: Literal["post", "comment"]
    target_id: str = Field(min_length=1, max_length=64)
    action: Literal["remove", "restore", "dismiss", "ban_user"]
    reason: str = Field(default="", max_length=1000)
    ban_days: int | None = Field(
        default=None, ge=1, le=3650, description="Required for ban_user: the ban's length"
    )


class SettingsIn(Model):
    auto_hide_threshold: int = Field(default=3, ge=1, le=1000)
    blocked_words: list[str] = Field(default_factory=list, max_length=500)
    new_member_days: int = Field(default=7, ge=0, le=365)
    new_member_max_links: int = Field(default=2, ge=0, le=1000)

    @field_validator("blocked_words")
    @classmethod
    def _words(cls, v: list[str]) -> list[str]:
        words = [w.strip() for w in v if w.strip()]
        if any(len(w) > 100 for w in words):
            raise ValueError("a blocked word or phrase is at most 100 characters")
        return list(dict.fromkeys(words))


class PostListQuery(ListQuery):
    include: Literal["removed"] | None = Field(
        default=None, description="`removed`: moderators also see hidden and removed posts"
    )


class PostQuery(Model):
    include: Literal["removed"] | None = None


class NotificationListQuery(ListQuery):
    unread: bool = False


class NotificationsReadIn(Model):
    ids: list[str] | None = Field(
        default=None, max_length=500, description="Omit to mark every notification read"
    )


class PreferencesIn(Model):
    # strict: a JSON 0 or "no" is not a boolean (the schema says so)
    replies: StrictBool = True
    mentions: StrictBool = True
    moderation: StrictBool = True
    live_sessions: StrictBool = True
    email_digest: StrictBool = True


# -- answers ---------------------------------------------------------------------------------
class AuthorOut(Out):
    user_id: str | None
    display_name: str


class PostOut(Out):
    id: str
    space_id: str
    title: str
    body: str
    body_html: str = Field(description="Sanitised HTML of `body`")
    author: AuthorOut
    status: Status
    pinned: bool
    version: int
    comment_count: int
    reactions: dict[str, int]
    created_at: str
    updated_at: str


class CommentOut(Out):
    id: str
    post_id: str
    parent_id: str | None
    body: str
    body_html: str
    author: AuthorOut
    status: Status
    version: int
    created_at: str
    updated_at: str


class PostWithCommentsOut(PostOut):
    comments: list[CommentOut]


class PostList(Out):
    items: list[PostOut]
    next_cursor: str | None


class ReactionOut(Out):
    post_id: str
    kind: str
    counts: dict[str, int]


class FlagOut(Out):
    id: str
    target_type: Literal["post", "comment"]
    target_id: str
    reason: str
    created_at: str


class QueueItemOut(Out):
    target_type: Literal["post", "comment"]
    target_id: str
    post_id: str
    excerpt: str
    author: AuthorOut
    flag_count: int
    reasons: list[str]
    reporters: list[AuthorOut]
    status: Status
    first_flagged_at: str


class QueuePage(Out):
    items: list[QueueItemOut]
    next_cursor: str | None


class ModerationOut(Out):
    target_type: Literal["post", "comment"]
    target_id: str
    action: str
    status: Status
    flags_resolved: int
    ban: dict[str, Any] | None


class BanOut(Out):
    user_id: str
    display_name: str
    reason: str
    banned_by: str | None
    created_at: str
    ends_at: str


class BanList(Out):
    items: list[BanOut]


class SettingsOut(Out):
    auto_hide_threshold: int
    blocked_words: list[str]
    new_member_days: int
    new_member_max_links: int


class NotificationOut(Out):
    id: str
    channel_id: str
    kind: Literal["reply", "mention", "moderation", "live_session"]
    title: str
    body: str
    link: str
    actor_id: str | None
    target_type: str | None
    target_id: str | None
    created_at: str
    read_at: str | None


class NotificationList(Out):
    items: list[NotificationOut]
    next_cursor: str | None
    unread_count: int


class PreferencesOut(Out):
    replies: bool
    mentions: bool
    moderation: bool
    live_sessions: bool
    email_digest: bool


class UnsubscribeQuery(Model):
    token: str = Field(min_length=40, max_length=300, description="The signed token of the link")
