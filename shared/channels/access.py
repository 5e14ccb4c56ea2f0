"""Membership and permission checks inside a tenant transaction."""

from __future__ import annotations

from shared import identity
from shared.channels.rules import allows, second_factor_applies
from shared.platform.db import Tx
from shared.platform.errors import Forbidden, NotFound
from shared.platform.ids import is_uuid


def check_channel_id(channel_id: str) -> str:
    if not is_uuid(channel_id):
        raise NotFound("No such channel.")
    return channel_id


def role_of(tx: Tx, user_id: str | None) -> str | None:
    if not user_id:
        return None
    return tx.scalar(
        "SELECT role FROM memberships WHERE channel_id = app_channel_id() AND user_id = :u",
        u=user_id,
    )


def require(tx: Tx, user_id: str | None, action: str) -> str:
    """The caller's role in the transaction's channel, if it allows `action`.

    Not a member (or no such channel): 404, so existence never leaks across tenants.
    A member without the permission: 403. An owner or admin of a channel that requires a
    second factor, signed in without one: 403 for anything but reading the channel.
    """
    row = (
        tx.one(
            "SELECT m.role, c.require_second_factor FROM memberships m"
            " JOIN channels c ON c.id = m.channel_id"
            " WHERE m.channel_id = app_channel_id() AND m.user_id = :u",
            u=user_id,
        )
        if user_id
        else None
    )
    if row is None or user_id is None:
        raise NotFound("No such channel.")
    role: str = row["role"]
    if not allows(role, action):
        raise Forbidden(f"Your role ({role}) cannot do this.")
    applies = second_factor_applies(
        role=role, action=action, channel_requires=bool(row["require_second_factor"])
    )
    if applies and not signed_in_with_second_factor(tx, user_id):
        how = (
            "sign in again with it"
            if identity.second_factor_enrolled(tx, user_id)
            else "add one (POST /v1/auth/second-factor/totp), then sign in with it"
        )
        raise Forbidden(
            f"This channel requires its owners and admins to sign in with a second factor:"
            f" {how} to act as {role} here."
        )
    return role


def signed_in_with_second_factor(tx: Tx, user_id: str) -> bool:
    """Whether the caller's session used a second factor (the access token of this request
    says so); for a caller without one in this request (in-process), whether they have one."""
    used = identity.session_used_second_factor(user_id)
    return used if used is not None else identity.second_factor_enrolled(tx, user_id)
