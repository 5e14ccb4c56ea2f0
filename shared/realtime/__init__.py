"""Realtime: the community's projection into Firestore (posts, comments, reaction counts,
notifications, bans) and the Firebase custom token a client signs in with to read it."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.realtime.projection import on_domain_event, project
    from shared.realtime.tokens import mint_token

__getattr__ = lazy_exports(__name__, __file__)
__all__ = ["mint_token", "on_domain_event", "project"]
