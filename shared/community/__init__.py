"""Community: spaces, posts, comments and reactions; flags, the moderation queue and bans;
in-app notifications with an email digest. Postgres is the system of record; every write is
audit-logged and emitted as an outbox event (the Firestore projection and search consume them).

The space-visibility rule lives in rules.space_visible and SQL community_space_visible()."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.community.rules import REACTION_KINDS, render_markdown, space_visible

__getattr__ = lazy_exports(__name__, __file__)
__all__ = ["REACTION_KINDS", "render_markdown", "space_visible"]
