"""Live classes of a batch, scheduled at the channel's live provider (Zoom)."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.live.attendance import (
        batch_attendance,
        batch_attendance_csv,
        session_attendance,
        student_attendance_rate,
    )
    from shared.live.service import (
        cancel_session,
        get_session,
        list_sessions,
        reschedule_session,
        schedule_session,
    )
    from shared.live.webhooks import handle_zoom_webhook

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "batch_attendance",
    "batch_attendance_csv",
    "cancel_session",
    "get_session",
    "handle_zoom_webhook",
    "list_sessions",
    "reschedule_session",
    "schedule_session",
    "session_attendance",
    "student_attendance_rate",
]
