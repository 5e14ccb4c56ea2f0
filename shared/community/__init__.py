"""Community: spaces, posts, comments and reactions; flags, the moderation queue and bans;
in-app notifications with an email digest. Postgres is the system of record; every write is
audit-logged and emitted as an outbox event (the Firestore projection and search consume them).

The space-visibility rule lives in rules.space_visible and SQL community_space_visible()."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.community.content import (
        add_reaction,
        create_comment,
        create_post,
        create_space,
        delete_comment,
        delete_post,
        edit_comment,
        edit_post,
        get_post,
        get_settings,
        list_posts,
        list_spaces,
        pin_post,
        put_settings,
        remove_reaction,
    )
    from shared.community.digest import send_digests
    from shared.community.live_notices import on_live_session_changed
    from shared.community.moderation import flag, lift_ban, list_bans, moderate, moderation_queue
    from shared.community.notifications import (
        get_preferences,
        mark_read,
        my_notifications,
        put_preferences,
        unsubscribe,
        unsubscribe_token,
    )
    from shared.community.rules import REACTION_KINDS, render_markdown, space_visible

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "REACTION_KINDS",
    "add_reaction",
    "create_comment",
    "create_post",
    "create_space",
    "delete_comment",
    "delete_post",
    "edit_comment",
    "edit_post",
    "flag",
    "get_post",
    "get_preferences",
    "get_settings",
    "lift_ban",
    "list_bans",
    "list_posts",
    "list_spaces",
    "mark_read",
    "moderate",
    "moderation_queue",
    "my_notifications",
    "on_live_session_changed",
    "pin_post",
    "put_preferences",
    "put_settings",
    "remove_reaction",
    "render_markdown",
    "send_digests",
    "space_visible",
    "unsubscribe",
    "unsubscribe_token",
]
