"""Channels (the tenants), their members and roles, and the permission check every
capability runs in its transactions."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.channels.access import check_channel_id, require, role_of
    from shared.channels.rules import POLICY, ROLES, allows, can_assign
    from shared.channels.service import (
        add_member,
        change_role,
        create_channel,
        get_channel,
        list_members,
        remove_member,
        update_channel,
    )

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "POLICY",
    "ROLES",
    "add_member",
    "allows",
    "can_assign",
    "change_role",
    "check_channel_id",
    "create_channel",
    "get_channel",
    "list_members",
    "remove_member",
    "require",
    "role_of",
    "update_channel",
]
