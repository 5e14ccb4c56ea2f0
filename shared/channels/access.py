"""Membership and permission checks inside a tenant transaction."""

from __future__ import annotations

from shared.channels.rules import allows
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
    A member without the permission: 403.
    """
    role = role_of(tx, user_id)
    if role is None:
        raise NotFound("No such channel.")
    if not allows(role, action):
        raise Forbidden(f"Your role ({role}) cannot do this.")
    return role
