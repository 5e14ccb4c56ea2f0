"""Spaces, posts, comments and reactions of a channel's community.

Every write runs in one tenant transaction with its audit row and outbox event
(`audit.record_change`), so the Firestore projection and search see exactly what committed.
Spam checks (rate limits, the channel's blocked words, links of new members) run before
anything is written; a banned member's writes are 403.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.channels import check_channel_id, require
from shared.community import rules
from shared.community.common import (
    COMMENT_COLUMNS,
    POST_COLUMNS,
    channel_settings,
    comment_event,
    comment_out,
    load_comment,
    load_post,
    notify,
    post_event,
    post_out,
    refuse_banned,
    require_space_visible,
    when,
)
from shared.community.schemas import (
    CommentIn,
    CommentPatch,
    PinIn,
    PostIn,
    PostPatch,
    SettingsIn,
    SpaceIn,
)
from shared.platform import audit, ratelimit
from shared.platform.db import Tx, transaction
from shared.platform.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.platform.ids import is_uuid, uuid7
from shared.platform.pagination import decode_cursor, page

_MAX_COMMENTS = 500  # a post's answer carries at most this many comments, oldest first


# -- spaces ---------------------------------------------------------------------------------
def create_space(*, channel_id: str, user_id: str | None, data: SpaceIn) -> dict[str, Any]:
    """A new space (admins and owners)."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "channel.update")
        kind, course_id, batch_id = "members", None, None
        audience = data.audience
        if not isinstance(audience, str):
            if hasattr(audience, "course_id"):
                kind, course_id = "course", audience.course_id
                table = "courses"
            else:
                kind, batch_id = "batch", getattr(audience, "batch_id", None)
                table = "batches"
            ref = course_id or batch_id
            found = is_uuid(str(ref)) and tx.scalar(
                f"SELECT 1 FROM {table} WHERE channel_id = app_channel_id() AND id = :id",
                id=ref,
            )
            if not found:
                raise Unprocessable(
                    f"No such {kind} in this channel.",
                    errors=[{"loc": ["body", "audience"], "msg": f"unknown {kind}"}],
                )
        row = tx.one(
            "INSERT INTO spaces (id, channel_id, name, audience_kind, course_id, batch_id,"
            " created_by) VALUES (:id, app_channel_id(), :n, :k, :c, :b, :u)"
            " RETURNING id, name, audience_kind, course_id, batch_id, created_at",
            id=uuid7(),
            n=data.name,
            k=kind,
            c=course_id,
            b=batch_id,
            u=user_id,
        )
        assert row is not None
        space = _space_out(row)
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="space.created",
            target_type="space",
            target_id=space["id"],
            payload={"channel_id": channel_id, **space},
        )
    return space


def list_spaces(*, channel_id: str, user_id: str | None) -> dict[str, Any]:
    """The spaces the caller may see."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "community.post")
        rows = tx.all(
            "SELECT id, name, audience_kind, course_id, batch_id, created_at FROM spaces"
            " WHERE channel_id = app_channel_id()"
            " AND community_space_visible(id, CAST(:u AS uuid)) ORDER BY id LIMIT 500",
            u=user_id,
        )
    return {"items": [_space_out(r) for r in rows]}


def _space_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "audience_kind": row["audience_kind"],
        "course_id": str(row["course_id"]) if row["course_id"] else None,
        "batch_id": str(row["batch_id"]) if row["batch_id"] else None,
        "created_at": when(row["created_at"]),
    }


# -- settings -------------------------------------------------------------------------------
def get_settings(*, channel_id: str, user_id: str | None) -> dict[str, Any]:
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "community.moderate")
        s = channel_settings(tx)
    return _settings_out(s)


def put_settings(*, channel_id: str, user_id: str | None, data: SettingsIn) -> dict[str, Any]:
    """Replace the channel's community settings (admins and owners)."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "channel.update")
        tx.exec(
            "INSERT INTO community_settings (channel_id, auto_hide_threshold, blocked_words,"
            " new_member_days, new_member_max_links) VALUES (app_channel_id(), :t,"
            " CAST(:w AS text[]), :d, :l) ON CONFLICT (channel_id) DO UPDATE SET"
            " auto_hide_threshold = EXCLUDED.auto_hide_threshold,"
            " blocked_words = EXCLUDED.blocked_words, new_member_days = EXCLUDED.new_member_days,"
            " new_member_max_links = EXCLUDED.new_member_max_links, updated_at = now()",
            t=data.auto_hide_threshold,
            w=data.blocked_words,
            d=data.new_member_days,
            l=data.new_member_max_links,
        )
        audit.record(
            tx,
            action="community.settings_changed",
            channel_id=channel_id,
            actor_user_id=user_id,
            target_type="channel",
            target_id=channel_id,
            details=data.model_dump(),
        )
        s = channel_settings(tx)
    return _settings_out(s)


def _settings_out(s: rules.Settings) -> dict[str, Any]:
    return {
        "auto_hide_threshold": s.auto_hide_threshold,
        "blocked_words": list(s.blocked_words),
        "new_member_days": s.new_member_days,
        "new_member_max_links": s.new_member_max_links,
    }


# -- spam -----------------------------------------------------------------------------------
def _rate(kind: str, channel_id: str, user_id: str | None) -> None:
    """Per member and channel; counted before the write's own transaction (ratelimit opens one)."""
    if user_id and is_uuid(channel_id):
        ratelimit.hit(
            f"community:{kind}:{channel_id}:{user_id}",
            rules.RATE_LIMITS[kind],
            detail=f"Too many {kind}s for now; try again later.",
        )


def _spam_check(tx: Tx, *, user_id: str, role: str, text: str, field: str) -> None:
    settings = channel_settings(tx)
    word = rules.blocked_word(text, settings.blocked_words)
    if word is not None:
        raise Unprocessable(
            "This text contains a word this community does not allow.",
            errors=[{"loc": ["body", field], "msg": "contains a blocked word"}],
        )
    joined = tx.scalar(
        "SELECT created_at FROM memberships WHERE channel_id = app_channel_id() AND user_id = :u",
        u=user_id,
    )
    now = datetime.now(UTC)
    if joined is not None and rules.too_many_links(
        text=text, role=role, joined_at=joined, now=now, settings=settings
    ):
        raise Unprocessable(
            f"New members may share at most {settings.new_member_max_links} links at once.",
            errors=[{"loc": ["body", field], "msg": "too many links for a new member"}],
        )


def _member_writer(tx: Tx, user_id: str | None) -> tuple[str, str]:
    role = require(tx, user_id, "community.post")
    assert user_id is not None
    refuse_banned(tx, user_id)
    return user_id, role


# -- posts ----------------------------------------------------------------------------------
def create_post(
    *, channel_id: str, user_id: str | None, space_id: str, data: PostIn
) -> dict[str, Any]:
    _rate("post", channel_id, user_id)
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        uid, role = _member_writer(tx, user_id)
        if not is_uuid(space_id):
            raise NotFound("No such space.")
        require_space_visible(tx, space_id, uid)
        _spam_check(tx, user_id=uid, role=role, text=data.title + "\n" + data.body, field="body")
        html = rules.render_markdown(data.body)
        row = tx.one(
            "WITH p AS (INSERT INTO posts (id, channel_id, space_id, author_id, title, body,"
            " body_html) VALUES (:id, app_channel_id(), :s, :u, :t, :b, :h) RETURNING *)"
            f" SELECT {POST_COLUMNS} FROM p LEFT JOIN users u ON u.id = p.author_id",
            id=uuid7(),
            s=space_id,
            u=uid,
            t=data.title,
            b=data.body,
            h=html,
        )
        assert row is not None
        post = post_out(row)
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=uid,
            action="post.created",
            target_type="post",
            target_id=post["id"],
            payload=post_event(channel_id, row),
        )
        _notify_mentions(
            tx,
            channel_id=channel_id,
            actor=row,
            text=data.body,
            already={uid},
            post_id=post["id"],
            what="a post",
        )
    return post


def list_posts(
    *,
    channel_id: str,
    user_id: str | None,
    space_id: str,
    limit: int,
    cursor: str | None,
    include: str | None = None,
) -> dict[str, Any]:
    """A space's posts: pinned first, then newest first; hidden and removed ones only for
    moderators asking `include=removed`; deleted ones for nobody."""
    after = decode_cursor(cursor)
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        role = require(tx, user_id, "community.post")
        if not is_uuid(space_id):
            raise NotFound("No such space.")
        require_space_visible(tx, space_id, str(user_id))
        statuses = _statuses(role, include)
        cursor_sql = ""
        params: dict[str, Any] = {"s": space_id, "st": statuses, "n": limit + 1}
        if after is not None:
            if not (isinstance(after.get("pinned"), bool) and is_uuid(str(after.get("id")))):
                raise Unprocessable("Invalid cursor.")
            cursor_sql = " AND (p.pinned, p.id) < (CAST(:cp AS boolean), CAST(:cid AS uuid))"
            params.update(cp=after["pinned"], cid=after["id"])
        rows = tx.all(
            f"SELECT {POST_COLUMNS} FROM posts p LEFT JOIN users u ON u.id = p.author_id"
            " WHERE p.channel_id = app_channel_id() AND p.space_id = :s"
            " AND p.status = ANY(CAST(:st AS text[]))"
            f"{cursor_sql} ORDER BY p.pinned DESC, p.id DESC LIMIT :n",
            **params,
        )
        counts = _reaction_counts(tx, [str(r["id"]) for r in rows[:limit]])
    items = [post_out(r, counts.get(str(r["id"]))) for r in rows]
    return page(items, limit, lambda p: {"pinned": p["pinned"], "id": p["id"]})


def _statuses(role: str, include: str | None) -> list[str]:
    moderator = role != "student"
    if include == "removed" and moderator:
        return ["visible", "hidden", "removed"]
    return ["visible"]


def _reaction_counts(tx: Tx, post_ids: list[str]) -> dict[str, dict[str, int]]:
    if not post_ids:
        return {}
    rows = tx.all(
        "SELECT post_id, kind, count(*) AS n FROM reactions WHERE channel_id = app_channel_id()"
        " AND post_id = ANY(CAST(:ids AS uuid[])) GROUP BY post_id, kind",
        ids=post_ids,
    )
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(str(r["post_id"]), {})[r["kind"]] = int(r["n"])
    return out


def _readable_post(tx: Tx, post_id: str, user_id: str, role: str, include: str | None) -> Any:
    row = load_post(tx, post_id)
    require_space_visible(tx, str(row["space_id"]), user_id)
    if row["status"] not in _statuses(role, include):
        raise NotFound("No such post.")
    return row


def get_post(
    *, channel_id: str, user_id: str | None, post_id: str, include: str | None = None
) -> dict[str, Any]:
    """A post with its comments (oldest first; replies carry their parent_id)."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        role = require(tx, user_id, "community.post")
        row = _readable_post(tx, post_id, str(user_id), role, include)
        comments = tx.all(
            f"SELECT {COMMENT_COLUMNS} FROM comments c LEFT JOIN users u ON u.id = c.author_id"
            " WHERE c.channel_id = app_channel_id() AND c.post_id = :p"
            " AND c.status = ANY(CAST(:st AS text[])) ORDER BY c.id LIMIT :n",
            p=row["id"],
            st=_statuses(role, include),
            n=_MAX_COMMENTS,
        )
        counts = _reaction_counts(tx, [str(row["id"])])
    out = post_out(row, counts.get(str(row["id"])))
    out["comments"] = [comment_out(c) for c in comments]
    return out


def edit_post(
    *, channel_id: str, user_id: str | None, post_id: str, data: PostPatch
) -> dict[str, Any]:
    """The author's edit; the previous version is kept in post_revisions."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        uid, role = _member_writer(tx, user_id)
        row = _readable_post(tx, post_id, uid, role, None)
        row = load_post(tx, str(row["id"]), lock=True)
        if str(row["author_id"]) != uid:
            raise Forbidden("Only the author may edit a post.")
        if row["status"] != "visible":
            raise NotFound("No such post.")
        title = row["title"] if data.title is None else data.title
        _spam_check(tx, user_id=uid, role=role, text=title + "\n" + data.body, field="body")
        tx.exec(
            "INSERT INTO post_revisions (id, channel_id, post_id, version, title, body, body_html,"
            " edited_by) VALUES (:id, app_channel_id(), :p, :v, :t, :b, :h, :u)",
            id=uuid7(),
            p=row["id"],
            v=row["version"],
            t=row["title"],
            b=row["body"],
            h=row["body_html"],
            u=uid,
        )
        new = _update_post(
            tx,
            row["id"],
            "title = :t, body = :b, body_html = :h",
            t=title,
            b=data.body,
            h=rules.render_markdown(data.body),
        )
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=uid,
            action="post.updated",
            target_type="post",
            target_id=str(row["id"]),
            payload=post_event(channel_id, new),
            details={"previous_version": int(row["version"])},
        )
        before = set(rules.mentioned_user_ids(row["body"]))
        _notify_mentions(
            tx,
            channel_id=channel_id,
            actor=new,
            text=data.body,
            already={uid} | before,
            post_id=str(row["id"]),
            what="a post",
        )
        counts = _reaction_counts(tx, [str(row["id"])])
    return post_out(new, counts.get(str(row["id"])))


def _update_post(tx: Tx, post_id: Any, sets: str, **params: Any) -> dict[str, Any]:
    row = tx.one(
        f"WITH p AS (UPDATE posts SET {sets}, version = version + 1, updated_at = now()"
        " WHERE id = :pid RETURNING *)"
        f" SELECT {POST_COLUMNS} FROM p LEFT JOIN users u ON u.id = p.author_id",
        pid=post_id,
        **params,
    )
    assert row is not None
    return row


def delete_post(*, channel_id: str, user_id: str | None, post_id: str) -> None:
    """Soft delete by its author or a moderator; it leaves lists and the projection."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        role = require(tx, user_id, "community.post")
        uid = str(user_id)
        row = _readable_post(tx, post_id, uid, role, "removed")
        row = load_post(tx, str(row["id"]), lock=True)
        moderator = role != "student"
        if str(row["author_id"]) != uid and not moderator:
            raise Forbidden("Only the author or a moderator may delete a post.")
        if row["status"] == "deleted":
            raise NotFound("No such post.")
        new = _update_post(tx, row["id"], "status = 'deleted', deleted_at = now()")
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=uid,
            action="post.removed",
            target_type="post",
            target_id=str(row["id"]),
            payload=post_event(channel_id, new, reason="deleted"),
            details={"by": "author" if str(row["author_id"]) == uid else "moderator"},
        )


def pin_post(*, channel_id: str, user_id: str | None, post_id: str, data: PinIn) -> dict[str, Any]:
    """Pin or unpin a post (moderators and up); pinned posts list first."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "community.moderate")
        row = load_post(tx, post_id, lock=True)
        require_space_visible(tx, str(row["space_id"]), str(user_id))
        if row["status"] == "deleted":
            raise NotFound("No such post.")
        new = row
        if bool(row["pinned"]) != data.pinned:
            new = _update_post(tx, row["id"], "pinned = :pin", pin=data.pinned)
            audit.record_change(
                tx,
                channel_id=channel_id,
                actor_user_id=user_id,
                action="post.updated",
                target_type="post",
                target_id=str(row["id"]),
                payload=post_event(channel_id, new),
                details={"pinned": data.pinned},
            )
        counts = _reaction_counts(tx, [str(row["id"])])
    return post_out(new, counts.get(str(row["id"])))


# -- comments -------------------------------------------------------------------------------
def create_comment(
    *, channel_id: str, user_id: str | None, post_id: str, data: CommentIn
) -> dict[str, Any]:
    """A comment, or a reply to one (a reply to a reply attaches to its top-level comment).
    The post's author and the parent comment's author are told; mentioned members too."""
    _rate("comment", channel_id, user_id)
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        uid, role = _member_writer(tx, user_id)
        post = _readable_post(tx, post_id, uid, role, None)
        parent_id, parent_author = None, None
        if data.parent_id is not None:
            parent = (
                tx.one(
                    "SELECT id, parent_id, author_id, status FROM comments"
                    " WHERE channel_id = app_channel_id() AND id = :id AND post_id = :p",
                    id=data.parent_id,
                    p=post["id"],
                )
                if is_uuid(str(data.parent_id))
                else None
            )
            if parent is None or parent["status"] != "visible":
                raise Unprocessable(
                    "The parent is not a comment of this post.",
                    errors=[{"loc": ["body", "parent_id"], "msg": "not a comment of this post"}],
                )
            top = rules.thread_parent(
                str(parent["id"]), str(parent["parent_id"]) if parent["parent_id"] else None
            )
            parent_id = top
            parent_author = str(parent["author_id"]) if parent["author_id"] else None
        _spam_check(tx, user_id=uid, role=role, text=data.body, field="body")
        row = tx.one(
            "WITH c AS (INSERT INTO comments (id, channel_id, post_id, parent_id, author_id, body,"
            " body_html) VALUES (:id, app_channel_id(), :p, :pa, :u, :b, :h) RETURNING *)"
            f" SELECT {COMMENT_COLUMNS} FROM c LEFT JOIN users u ON u.id = c.author_id",
            id=uuid7(),
            p=post["id"],
            pa=parent_id,
            u=uid,
            b=data.body,
            h=rules.render_markdown(data.body),
        )
        assert row is not None
        tx.exec("UPDATE posts SET comment_count = comment_count + 1 WHERE id = :p", p=post["id"])
        comment = comment_out(row)
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=uid,
            action="comment.created",
            target_type="comment",
            target_id=comment["id"],
            payload=comment_event(channel_id, str(post["space_id"]), row),
        )
        told = {uid}
        link = f"/v1/channels/{channel_id}/posts/{post['id']}"
        excerpt = rules.plain_excerpt(data.body)
        for target in (parent_author, str(post["author_id"]) if post["author_id"] else None):
            if target and target not in told:
                told.add(target)
                notify(
                    tx,
                    channel_id=channel_id,
                    user_id=target,
                    kind="reply",
                    title=f"{row['author_name']} replied",
                    body=excerpt,
                    link=link,
                    actor_id=uid,
                    target_type="comment",
                    target_id=comment["id"],
                )
        _notify_mentions(
            tx,
            channel_id=channel_id,
            actor=row,
            text=data.body,
            already=told,
            post_id=str(post["id"]),
            what="a comment",
        )
    return comment


def edit_comment(
    *, channel_id: str, user_id: str | None, comment_id: str, data: CommentPatch
) -> dict[str, Any]:
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        uid, role = _member_writer(tx, user_id)
        row = load_comment(tx, comment_id, lock=True)
        require_space_visible(tx, str(row["space_id"]), uid)
        if row["status"] != "visible":
            raise NotFound("No such comment.")
        if str(row["author_id"]) != uid:
            raise Forbidden("Only the author may edit a comment.")
        _spam_check(tx, user_id=uid, role=role, text=data.body, field="body")
        tx.exec(
            "INSERT INTO comment_revisions (id, channel_id, comment_id, version, body, body_html,"
            " edited_by) VALUES (:id, app_channel_id(), :c, :v, :b, :h, :u)",
            id=uuid7(),
            c=row["id"],
            v=row["version"],
            b=row["body"],
            h=row["body_html"],
            u=uid,
        )
        new = update_comment(
            tx,
            row["id"],
            "body = :b, body_html = :h",
            b=data.body,
            h=rules.render_markdown(data.body),
        )
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=uid,
            action="comment.updated",
            target_type="comment",
            target_id=str(row["id"]),
            payload=comment_event(channel_id, str(row["space_id"]), new),
        )
    return comment_out(new)


def update_comment(tx: Tx, comment_id: Any, sets: str, **params: Any) -> dict[str, Any]:
    row = tx.one(
        f"WITH c AS (UPDATE comments SET {sets}, version = version + 1, updated_at = now()"
        " WHERE id = :cid RETURNING *)"
        f" SELECT {COMMENT_COLUMNS} FROM c LEFT JOIN users u ON u.id = c.author_id",
        cid=comment_id,
        **params,
    )
    assert row is not None
    return row


def delete_comment(*, channel_id: str, user_id: str | None, comment_id: str) -> None:
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        role = require(tx, user_id, "community.post")
        uid = str(user_id)
        row = load_comment(tx, comment_id, lock=True)
        require_space_visible(tx, str(row["space_id"]), uid)
        moderator = role != "student"
        if row["status"] == "deleted" or (row["status"] != "visible" and not moderator):
            raise NotFound("No such comment.")
        if str(row["author_id"]) != uid and not moderator:
            raise Forbidden("Only the author or a moderator may delete a comment.")
        new = update_comment(tx, row["id"], "status = 'deleted', deleted_at = now()")
        if row["status"] == "visible":
            tx.exec(
                "UPDATE posts SET comment_count = greatest(comment_count - 1, 0) WHERE id = :p",
                p=row["post_id"],
            )
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=uid,
            action="comment.removed",
            target_type="comment",
            target_id=str(row["id"]),
            payload=comment_event(channel_id, str(row["space_id"]), new, reason="deleted"),
        )


# -- reactions ------------------------------------------------------------------------------
def add_reaction(*, channel_id: str, user_id: str | None, post_id: str, kind: str) -> dict:
    """One reaction per member, post and kind: a repeat is 409."""
    _rate("reaction", channel_id, user_id)
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        uid, role = _member_writer(tx, user_id)
        post = _readable_post(tx, post_id, uid, role, None)
        added = tx.one(
            "INSERT INTO reactions (channel_id, post_id, user_id, kind)"
            " VALUES (app_channel_id(), :p, :u, :k) ON CONFLICT DO NOTHING RETURNING kind",
            p=post["id"],
            u=uid,
            k=kind,
        )
        if added is None:
            raise Conflict("You already reacted with this kind.")
        return _reaction_changed(tx, channel_id, uid, post, kind, "reaction.created")


def remove_reaction(*, channel_id: str, user_id: str | None, post_id: str, kind: str) -> None:
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        uid, role = _member_writer(tx, user_id)
        post = _readable_post(tx, post_id, uid, role, None)
        n = tx.exec(
            "DELETE FROM reactions WHERE channel_id = app_channel_id() AND post_id = :p"
            " AND user_id = :u AND kind = :k",
            p=post["id"],
            u=uid,
            k=kind,
        )
        if not n:
            raise NotFound("No such reaction.")
        _reaction_changed(tx, channel_id, uid, post, kind, "reaction.removed")


def _reaction_changed(
    tx: Tx, channel_id: str, uid: str, post: dict[str, Any], kind: str, action: str
) -> dict[str, Any]:
    version = tx.scalar(
        "UPDATE posts SET reactions_version = reactions_version + 1 WHERE id = :p"
        " RETURNING reactions_version",
        p=post["id"],
    )
    counts = _reaction_counts(tx, [str(post["id"])]).get(str(post["id"]), {})
    audit.record_change(
        tx,
        channel_id=channel_id,
        actor_user_id=uid,
        action=action,
        target_type="post",
        target_id=str(post["id"]),
        payload={
            "channel_id": channel_id,
            "space_id": str(post["space_id"]),
            "post_id": str(post["id"]),
            "user_id": uid,
            "kind": kind,
            "counts": counts,
            "version": int(version),
        },
    )
    return {"post_id": str(post["id"]), "kind": kind, "counts": counts}


# -- mentions -------------------------------------------------------------------------------
def _notify_mentions(
    tx: Tx,
    *,
    channel_id: str,
    actor: dict[str, Any],
    text: str,
    already: set[str],
    post_id: str,
    what: str,
) -> None:
    """Mentioned members of this channel are told (non-members and the author are not)."""
    ids = [i for i in rules.mentioned_user_ids(text) if i not in already]
    if not ids:
        return
    members = tx.all(
        "SELECT user_id FROM memberships WHERE channel_id = app_channel_id()"
        " AND user_id = ANY(CAST(:ids AS uuid[]))",
        ids=ids,
    )
    for m in members:
        notify(
            tx,
            channel_id=channel_id,
            user_id=str(m["user_id"]),
            kind="mention",
            title=f"{actor['author_name']} mentioned you in {what}",
            body=rules.plain_excerpt(text),
            link=f"/v1/channels/{channel_id}/posts/{post_id}",
            actor_id=str(actor["author_id"]),
            target_type="post",
            target_id=post_id,
        )
