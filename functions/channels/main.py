"""HTTP route family: channels (the tenants), their members and roles, their audit log."""

from typing import Any

import functions_framework
from flask import Response, stream_with_context

from shared import channels
from shared.channels.schemas import (
    Channel,
    ChannelIn,
    ChannelOut,
    ChannelPatch,
    Member,
    MemberIn,
    MemberList,
    MemberOut,
    MemberPage,
    MemberPatch,
)
from shared.privacy.schemas import AuditList, AuditQuery
from shared.web import Api, Ctx, ListQuery

api = Api("channels", tag="Channels")
C = "/v1/channels/{channel_id}"
HIDDEN = {404: "No such channel (or not a member)"}
DENIED = {403: "Your role cannot do this", **HIDDEN}


@api.route(
    "POST",
    "/v1/channels",
    body=ChannelIn,
    status=201,
    response=ChannelOut,
    idempotent=True,
    summary="Open a channel; the caller becomes its owner",
    errors={409: "Slug taken"},
)
def create_channel(ctx: Ctx) -> Channel:
    b = ctx.body
    return channels.create_channel(
        user_id=ctx.require_user(),
        slug=b.slug,
        name=b.name,
        theme=b.theme.tokens() if b.theme else {},
    )


@api.route("GET", C, response=ChannelOut, summary="Read a channel", errors=HIDDEN)
def get_channel(ctx: Ctx) -> Channel:
    return channels.get_channel(channel_id=ctx.params["channel_id"], user_id=ctx.user_id)


@api.route(
    "PATCH",
    C,
    body=ChannelPatch,
    response=ChannelOut,
    summary="Rename or restyle a channel (owner/admin)",
    errors={
        **DENIED,
        409: "Requiring a second factor takes a session signed in with one of your own",
    },
)
def update_channel(ctx: Ctx) -> Channel:
    return channels.update_channel(
        channel_id=ctx.params["channel_id"], user_id=ctx.user_id, patch=ctx.body
    )


@api.route(
    "GET",
    C + "/members",
    query=ListQuery,
    response=MemberList,
    summary="List members (staff)",
    errors=DENIED,
)
def list_members(ctx: Ctx) -> MemberPage:
    return channels.list_members(
        channel_id=ctx.params["channel_id"],
        user_id=ctx.user_id,
        limit=ctx.query.limit,
        cursor=ctx.query.cursor,
    )


@api.route(
    "POST",
    C + "/members",
    body=MemberIn,
    status=201,
    response=MemberOut,
    idempotent=True,
    summary="Add a member by email (owner/admin)",
    errors={**DENIED, 409: "Already a member"},
)
def add_member(ctx: Ctx) -> Member:
    return channels.add_member(
        channel_id=ctx.params["channel_id"],
        user_id=ctx.user_id,
        email=ctx.body.email,
        role=ctx.body.role,
    )


@api.route(
    "PATCH",
    C + "/members/{user_id}",
    body=MemberPatch,
    response=MemberOut,
    summary="Change a member's role (owner/admin)",
    errors={**DENIED, 409: "Would leave the channel without an owner"},
)
def change_role(ctx: Ctx) -> Member:
    return channels.change_role(
        channel_id=ctx.params["channel_id"],
        user_id=ctx.user_id,
        member_id=ctx.params["user_id"],
        role=ctx.body.role,
    )


@api.route(
    "DELETE",
    C + "/members/{user_id}",
    status=204,
    summary="Remove a member (owner/admin, or yourself)",
    errors={**DENIED, 409: "The last owner cannot be removed"},
)
def remove_member(ctx: Ctx) -> None:
    channels.remove_member(
        channel_id=ctx.params["channel_id"], user_id=ctx.user_id, member_id=ctx.params["user_id"]
    )


@api.route(
    "GET",
    C + "/audit-log",
    query=AuditQuery,
    response=AuditList,
    also_content={"text/csv": {"type": "string", "contentMediaType": "text/csv"}},
    summary="The channel's audit log, newest first, filtered by time, actor and action, with "
    "the hash chain's verification; `format=csv` exports every matching row as CSV "
    "(X-Audit-Chain-Verified header) (owner/admin)",
    errors=DENIED,
)
def audit_log(ctx: Ctx) -> Any:
    from shared import privacy

    q = ctx.query
    filters = {"frm": q.from_, "to": q.to, "actor": q.actor, "action": q.action}
    if q.format == "csv":
        lines, headers = privacy.audit_csv(
            channel_id=ctx.params["channel_id"], user_id=ctx.user_id, **filters
        )
        return Response(
            stream_with_context(lines),
            status=200,
            headers=headers,
            content_type="text/csv; charset=utf-8",
        )
    return privacy.audit_log(
        channel_id=ctx.params["channel_id"],
        user_id=ctx.user_id,
        limit=q.limit,
        cursor=q.cursor,
        **filters,
    )


handle_channels = functions_framework.http(api)
