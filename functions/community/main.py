"""HTTP route family: a channel's community (spaces, posts, comments, reactions, flags,
moderation, bans, settings) and a member's notifications, preferences and unsubscribe link."""

import html
from typing import Any

import functions_framework
from flask import Response

from shared import community
from shared.community.schemas import (
    BanList,
    CommentIn,
    CommentOut,
    CommentPatch,
    FlagIn,
    FlagOut,
    ModerationActionIn,
    ModerationOut,
    NotificationList,
    NotificationListQuery,
    NotificationsReadIn,
    PinIn,
    PostIn,
    PostList,
    PostListQuery,
    PostOut,
    PostPatch,
    PostQuery,
    PostWithCommentsOut,
    PreferencesIn,
    PreferencesOut,
    QueuePage,
    ReactionIn,
    ReactionOut,
    SettingsIn,
    SettingsOut,
    SpaceIn,
    SpaceList,
    SpaceOut,
    UnsubscribeQuery,
)
from shared.web import Api, Ctx, ListQuery

api = Api("community", tag="Community")
C = "/v1/channels/{channel_id}"
MEMBER = {404: "No such channel, or not a member"}
WRITE = {
    **MEMBER,
    403: "Banned from this community until the ban ends",
    422: "Invalid body, a blocked word, too many links for a new member, or text with a NUL"
    " character or a lone surrogate (Postgres text holds neither)",
    429: "Too many writes for now",
}
MOD = {403: "Moderators and up only", 404: "No such channel"}


def _uid(ctx: Ctx) -> str:
    return ctx.require_user()


def _c(ctx: Ctx) -> str:
    return ctx.params["channel_id"]


@api.route(
    "POST",
    C + "/spaces",
    body=SpaceIn,
    status=201,
    response=SpaceOut,
    summary="Create a space for every member, a course's or a batch's students",
    errors={
        403: "Owner or admin only",
        404: "No such channel",
        422: "Unknown course or batch: the audience must name one of this channel's",
    },
)
def create_space(ctx: Ctx) -> Any:
    return community.create_space(channel_id=_c(ctx), user_id=_uid(ctx), data=ctx.body)


@api.route(
    "GET", C + "/spaces", response=SpaceList, summary="The spaces the caller may see", errors=MEMBER
)
def list_spaces(ctx: Ctx) -> Any:
    return community.list_spaces(channel_id=_c(ctx), user_id=_uid(ctx))


@api.route(
    "POST",
    C + "/spaces/{space_id}/posts",
    body=PostIn,
    status=201,
    response=PostOut,
    summary="Post in a space (Markdown, rendered to sanitised HTML)",
    errors={**WRITE, 404: "No such channel or space"},
)
def create_post(ctx: Ctx) -> Any:
    return community.create_post(
        channel_id=_c(ctx), user_id=_uid(ctx), space_id=ctx.params["space_id"], data=ctx.body
    )


@api.route(
    "GET",
    C + "/spaces/{space_id}/posts",
    query=PostListQuery,
    response=PostList,
    summary="A space's posts, pinned first then newest first (cursor pagination)",
    errors={404: "No such channel or space"},
)
def list_posts(ctx: Ctx) -> Any:
    q = ctx.query
    return community.list_posts(
        channel_id=_c(ctx),
        user_id=_uid(ctx),
        space_id=ctx.params["space_id"],
        limit=q.limit,
        cursor=q.cursor,
        include=q.include,
    )


@api.route(
    "GET",
    C + "/posts/{post_id}",
    query=PostQuery,
    response=PostWithCommentsOut,
    summary="A post with its comments",
    errors={404: "No such channel or post"},
)
def get_post(ctx: Ctx) -> Any:
    return community.get_post(
        channel_id=_c(ctx),
        user_id=_uid(ctx),
        post_id=ctx.params["post_id"],
        include=ctx.query.include,
    )


@api.route(
    "PATCH",
    C + "/posts/{post_id}",
    body=PostPatch,
    response=PostOut,
    summary="Edit one's post; the previous version is kept",
    errors={**WRITE, 403: "Not the author, or banned"},
)
def edit_post(ctx: Ctx) -> Any:
    return community.edit_post(
        channel_id=_c(ctx), user_id=_uid(ctx), post_id=ctx.params["post_id"], data=ctx.body
    )


@api.route(
    "DELETE",
    C + "/posts/{post_id}",
    status=204,
    summary="Delete a post (its author or a moderator; a soft delete)",
    errors={403: "Neither the author nor a moderator", 404: "No such post"},
)
def delete_post(ctx: Ctx) -> None:
    community.delete_post(channel_id=_c(ctx), user_id=_uid(ctx), post_id=ctx.params["post_id"])


@api.route(
    "PUT",
    C + "/posts/{post_id}/pin",
    body=PinIn,
    response=PostOut,
    summary="Pin or unpin a post (moderators and up)",
    errors=MOD,
)
def pin_post(ctx: Ctx) -> Any:
    return community.pin_post(
        channel_id=_c(ctx), user_id=_uid(ctx), post_id=ctx.params["post_id"], data=ctx.body
    )


@api.route(
    "POST",
    C + "/posts/{post_id}/comments",
    body=CommentIn,
    status=201,
    response=CommentOut,
    summary="Comment on a post, or reply to a comment",
    errors={**WRITE, 422: "Invalid body, or parent_id is not a comment of this post"},
)
def create_comment(ctx: Ctx) -> Any:
    return community.create_comment(
        channel_id=_c(ctx), user_id=_uid(ctx), post_id=ctx.params["post_id"], data=ctx.body
    )


@api.route(
    "PATCH",
    C + "/comments/{comment_id}",
    body=CommentPatch,
    response=CommentOut,
    summary="Edit one's comment; the previous version is kept",
    errors=WRITE,
)
def edit_comment(ctx: Ctx) -> Any:
    return community.edit_comment(
        channel_id=_c(ctx), user_id=_uid(ctx), comment_id=ctx.params["comment_id"], data=ctx.body
    )


@api.route(
    "DELETE",
    C + "/comments/{comment_id}",
    status=204,
    summary="Delete a comment (its author or a moderator; a soft delete)",
    errors={403: "Neither the author nor a moderator", 404: "No such comment"},
)
def delete_comment(ctx: Ctx) -> None:
    community.delete_comment(
        channel_id=_c(ctx), user_id=_uid(ctx), comment_id=ctx.params["comment_id"]
    )


@api.route(
    "POST",
    C + "/posts/{post_id}/reactions",
    body=ReactionIn,
    status=201,
    response=ReactionOut,
    summary="React to a post (one per member and kind)",
    errors={**WRITE, 409: "Already reacted with this kind"},
)
def add_reaction(ctx: Ctx) -> Any:
    return community.add_reaction(
        channel_id=_c(ctx), user_id=_uid(ctx), post_id=ctx.params["post_id"], kind=ctx.body.kind
    )


@api.route(
    "DELETE",
    C + "/posts/{post_id}/reactions/{kind}",
    status=204,
    summary="Take one's reaction back",
    errors={**WRITE, 404: "No such reaction"},
)
def remove_reaction(ctx: Ctx) -> None:
    community.remove_reaction(
        channel_id=_c(ctx),
        user_id=_uid(ctx),
        post_id=ctx.params["post_id"],
        kind=ctx.params["kind"],
    )


@api.route(
    "POST",
    C + "/posts/{post_id}/flags",
    body=FlagIn,
    status=201,
    response=FlagOut,
    summary="Report a post to the moderators (one per member and post)",
    errors={**WRITE, 409: "Already flagged by the caller"},
)
def flag_post(ctx: Ctx) -> Any:
    return community.flag(
        channel_id=_c(ctx),
        user_id=_uid(ctx),
        target_type="post",
        target_id=ctx.params["post_id"],
        reason=ctx.body.reason,
    )


@api.route(
    "POST",
    C + "/comments/{comment_id}/flags",
    body=FlagIn,
    status=201,
    response=FlagOut,
    summary="Report a comment (one per member and comment)",
    errors={**WRITE, 409: "Already flagged by the caller"},
)
def flag_comment(ctx: Ctx) -> Any:
    return community.flag(
        channel_id=_c(ctx),
        user_id=_uid(ctx),
        target_type="comment",
        target_id=ctx.params["comment_id"],
        reason=ctx.body.reason,
    )


@api.route(
    "GET",
    C + "/moderation/queue",
    query=ListQuery,
    response=QueuePage,
    summary="Flagged content grouped by target, oldest first",
    errors=MOD,
)
def queue(ctx: Ctx) -> Any:
    return community.moderation_queue(
        channel_id=_c(ctx), user_id=_uid(ctx), limit=ctx.query.limit, cursor=ctx.query.cursor
    )


@api.route(
    "POST",
    C + "/moderation/actions",
    body=ModerationActionIn,
    response=ModerationOut,
    summary="Remove, restore, dismiss, or ban the author (audit-logged; author told)",
    errors={
        **MOD,
        404: "No such channel, or no such target in it",
        409: "The action does not apply to the target's state",
        422: "Invalid body (`ban_user` needs `ban_days`)",
    },
)
def moderate(ctx: Ctx) -> Any:
    return community.moderate(channel_id=_c(ctx), user_id=_uid(ctx), data=ctx.body)


@api.route("GET", C + "/bans", response=BanList, summary="Active bans", errors=MOD)
def list_bans(ctx: Ctx) -> Any:
    return community.list_bans(channel_id=_c(ctx), user_id=_uid(ctx))


@api.route(
    "DELETE",
    C + "/bans/{user_id}",
    status=204,
    summary="Lift a member's ban",
    errors={**MOD, 404: "No such channel or no active ban"},
)
def lift_ban(ctx: Ctx) -> None:
    community.lift_ban(channel_id=_c(ctx), user_id=_uid(ctx), banned_user_id=ctx.params["user_id"])


@api.route(
    "GET",
    C + "/community-settings",
    response=SettingsOut,
    summary="Auto-hide threshold and spam rules",
    errors=MOD,
)
def get_community_settings(ctx: Ctx) -> Any:
    return community.get_settings(channel_id=_c(ctx), user_id=_uid(ctx))


@api.route(
    "PUT",
    C + "/community-settings",
    body=SettingsIn,
    response=SettingsOut,
    summary="Set the auto-hide threshold, blocked words and new-member link cap",
    errors={403: "Owner or admin only", 404: "No such channel"},
)
def put_community_settings(ctx: Ctx) -> Any:
    return community.put_settings(channel_id=_c(ctx), user_id=_uid(ctx), data=ctx.body)


@api.route(
    "GET",
    "/v1/me/notifications",
    query=NotificationListQuery,
    response=NotificationList,
    summary="The caller's notifications, newest first",
)
def my_notifications(ctx: Ctx) -> Any:
    q = ctx.query
    return community.my_notifications(
        user_id=_uid(ctx), limit=q.limit, cursor=q.cursor, unread=q.unread
    )


@api.route(
    "POST",
    "/v1/me/notifications/read",
    body=NotificationsReadIn,
    status=204,
    summary="Mark notifications read (the listed ids, or all)",
)
def mark_read(ctx: Ctx) -> None:
    community.mark_read(user_id=_uid(ctx), data=ctx.body)


@api.route(
    "GET",
    "/v1/me/notification-preferences",
    response=PreferencesOut,
    summary="Which notifications the caller wants, and the email digest",
)
def get_preferences(ctx: Ctx) -> Any:
    return community.get_preferences(user_id=_uid(ctx))


@api.route(
    "PUT",
    "/v1/me/notification-preferences",
    body=PreferencesIn,
    response=PreferencesOut,
    summary="Set the caller's notification preferences",
)
def put_preferences(ctx: Ctx) -> Any:
    return community.put_preferences(user_id=_uid(ctx), data=ctx.body)


_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Email notifications</title>"
    "<body><p>{text}</p>{form}</body></html>"
)


@api.route(
    "GET",
    "/v1/notifications/unsubscribe",
    query=UnsubscribeQuery,
    auth="none",
    content_type="text/html",
    summary="The page of a digest's unsubscribe link (a button; GETs change nothing)",
)
def unsubscribe_page(ctx: Ctx) -> Response:
    token = html.escape(ctx.query.token)
    form = (
        f'<form method=post action="?token={token}"><button>Stop the email digest</button></form>'
    )
    body = _PAGE.format(text="Stop receiving notification emails?", form=form)
    return Response(body, status=200, content_type="text/html; charset=utf-8")


@api.route(
    "POST",
    "/v1/notifications/unsubscribe",
    query=UnsubscribeQuery,
    auth="none",
    content_type="text/html",
    summary="One-click unsubscribe (RFC 8058): no sign-in, the link is signed",
    errors={403: "The link's signature does not verify"},
)
def unsubscribe(ctx: Ctx) -> Response:
    community.unsubscribe(token=ctx.query.token)
    body = _PAGE.format(text="You will no longer receive notification emails.", form="")
    return Response(body, status=200, content_type="text/html; charset=utf-8")


handle_community = functions_framework.http(api)
