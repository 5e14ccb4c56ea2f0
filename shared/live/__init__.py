"""Live classes of a batch, scheduled at the channel's live provider (Zoom)."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.live.service import (
        cancel_session,
        get_session,
        list_sessions,
        reschedule_session,
        schedule_session,
    )

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "cancel_session",
    "get_session",
    "list_sessions",
    "reschedule_session",
    "schedule_session",
]
