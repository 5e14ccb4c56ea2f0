"""What the community use cases share: row shapes, event payloads, the ban check, settings,
and writing a notification (with its event) inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.community import rules
from shared.platform import outbox
from shared.platform.db import Tx
from shared.platform.errors import Forbidden, NotFound
from shared.platform.ids import is_uuid, uuid7
from shared.platform.pagination import to_json

POST_COLUMNS = (
    "p.id, p.space_id, p.title, p.body, p.body_html, p.author_id, p.status, p.pinned,"
    " p.version, p.comment_count, p.reactions_version, p.created_at, p.updated_at,"
    " coalesce(u.display_name, '') AS author_name"
)
COMMENT_COLUMNS = (
    "c.id, c.post_id, c.parent_id, c.body, c.body_html, c.author_id, c.status, c.version,"
    " c.created_at, c.updated_at, coalesce(u.display_name, '') AS author_name"
)


def when(value: datetime | None) -> str | None:
    return None if value is None else str(to_json(value))


def author(row: dict[str, Any]) -> dict[str, Any]:
    uid = row.get("author_id")
    return {"user_id": str(uid) if uid else None, "display_name": row.get("author_name") or ""}


def post_out(row: dict[str, Any], reactions: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "space_id": str(row["space_id"]),
        "title": row["title"],
        "body": row["body"],
        "body_html": row["body_html"],
        "author": author(row),
        "status": row["status"],
        "pinned": bool(row["pinned"]),
        "version": int(row["version"]),
        "comment_count": int(row["comment_count"]),
        "reactions": reactions or {},
        "created_at": when(row["created_at"]),
        "updated_at": when(row["updated_at"]),
    }


def comment_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "post_id": str(row["post_id"]),
        "parent_id": str(row["parent_id"]) if row["parent_id"] else None,
        "body": row["body"],
        "body_html": row["body_html"],
        "author": author(row),
        "status": row["status"],
        "version": int(row["version"]),
        "created_at": when(row["created_at"]),
        "updated_at": when(row["updated_at"]),
    }


def post_event(channel_id: str, row: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The projection document of a post (the contract's post.* payload)."""
    return {
        "channel_id": channel_id,
        "space_id": str(row["space_id"]),
        "post_id": str(row["id"]),
        "version": int(row["version"]),
        "title": row["title"],
        "body_html": row["body_html"],
        "author": author(row),
        "pinned": bool(row["pinned"]),
        "status": row["status"],
        "comment_count": int(row["comment_count"]),
        "created_at": when(row["created_at"]),
        "updated_at": when(row["updated_at"]),
        **extra,
    }


def comment_event(
    channel_id: str, space_id: str, row: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {
        "channel_id": channel_id,
        "space_id": space_id,
        "post_id": str(row["post_id"]),
        "comment_id": str(row["id"]),
        "parent_id": str(row["parent_id"]) if row["parent_id"] else None,
        "version": int(row["version"]),
        "body_html": row["body_html"],
        "author": author(row),
        "status": row["status"],
        "created_at": when(row["created_at"]),
        "updated_at": when(row["updated_at"]),
        **extra,
    }


def load_post(tx: Tx, post_id: str, *, lock: bool = False) -> dict[str, Any]:
    """A post of the transaction's channel, or 404."""
    row = (
        tx.one(
            f"SELECT {POST_COLUMNS} FROM posts p LEFT JOIN users u ON u.id = p.author_id"
            " WHERE p.channel_id = app_channel_id() AND p.id = :id"
            + (" FOR UPDATE OF p" if lock else ""),
            id=post_id,
        )
        if is_uuid(post_id)
        else None
    )
    if row is None:
        raise NotFound("No such post.")
    return row


def load_comment(tx: Tx, comment_id: str, *, lock: bool = False) -> dict[str, Any]:
    row = (
        tx.one(
            f"SELECT {COMMENT_COLUMNS}, p.space_id FROM comments c"
            " JOIN posts p ON p.id = c.post_id LEFT JOIN users u ON u.id = c.author_id"
            " WHERE c.channel_id = app_channel_id() AND c.id = :id"
            + (" FOR UPDATE OF c" if lock else ""),
            id=comment_id,
        )
        if is_uuid(comment_id)
        else None
    )
    if row is None:
        raise NotFound("No such comment.")
    return row


def space_visible(tx: Tx, space_id: str, user_id: str) -> bool:
    return bool(
        tx.scalar(
            "SELECT community_space_visible(CAST(:s AS uuid), CAST(:u AS uuid))",
            s=space_id,
            u=user_id,
        )
    )


def require_space_visible(tx: Tx, space_id: str, user_id: str) -> None:
    """A space the caller may not see answers like one that does not exist."""
    if not space_visible(tx, space_id, user_id):
        raise NotFound("No such space.")


def refuse_banned(tx: Tx, user_id: str) -> None:
    """A banned member may not post, comment, react or flag until the ban ends (403)."""
    ends = tx.scalar(
        "SELECT ends_at FROM bans WHERE channel_id = app_channel_id() AND user_id = :u"
        " AND ends_at > now()",
        u=user_id,
    )
    if ends is not None:
        raise Forbidden(f"You are banned from this community until {when(ends)}.")


def channel_settings(tx: Tx) -> rules.Settings:
    row = tx.one(
        "SELECT auto_hide_threshold, blocked_words, new_member_days, new_member_max_links"
        " FROM community_settings WHERE channel_id = app_channel_id()"
    )
    if row is None:
        return rules.DEFAULT_SETTINGS
    return rules.Settings(
        auto_hide_threshold=int(row["auto_hide_threshold"]),
        blocked_words=tuple(row["blocked_words"] or ()),
        new_member_days=int(row["new_member_days"]),
        new_member_max_links=int(row["new_member_max_links"]),
    )


def notify(
    tx: Tx,
    *,
    channel_id: str,
    user_id: str,
    kind: str,
    title: str,
    body: str = "",
    link: str = "",
    actor_id: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    dedupe_key: str | None = None,
) -> str | None:
    """Write one in-app notification (and its `notification.created` event) if the person
    wants this kind; None when they do not, or when `dedupe_key` already notified them."""
    if not tx.scalar("SELECT community_notify_wanted(CAST(:u AS uuid), :k)", u=user_id, k=kind):
        return None
    row = tx.one(
        "INSERT INTO notifications (id, channel_id, user_id, kind, title, body, link, actor_id,"
        " target_type, target_id, dedupe_key) VALUES (:id, app_channel_id(), :u, :k, :t, :b,"
        " :l, :a, :tt, :ti, :dk) ON CONFLICT (user_id, dedupe_key) DO NOTHING"
        " RETURNING id, created_at",
        id=uuid7(),
        u=user_id,
        k=kind,
        t=title[:300],
        b=body[:1000],
        l=link[:500],
        a=actor_id,
        tt=target_type,
        ti=target_id,
        dk=dedupe_key,
    )
    if row is None:
        return None
    nid = str(row["id"])
    outbox.add(
        tx,
        channel_id=channel_id,
        event_type="notification.created",
        payload={
            "channel_id": channel_id,
            "user_id": user_id,
            "notification_id": nid,
            "kind": kind,
            "title": title[:300],
            "body": body[:1000],
            "link": link[:500],
            "actor": actor_id,
            "created_at": when(row["created_at"]),
            "read": False,
            "version": 1,
        },
    )
    return nid
