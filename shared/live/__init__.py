"""Live classes of a batch, scheduled at the channel's live provider (Zoom)."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.live.attendance import (
        batch_attendance,
        batch_attendance_counts,
        batch_attendance_csv,
        session_attendance,
        student_attendance_rate,
    )
    from shared.live.calendar import calendar_feed, calendar_url
    from shared.live.recording_queue import enqueue_recording_ingest
    from shared.live.recordings import IngestRetry, ingest_recording, recording_state
    from shared.live.reminders import on_session_rescheduled, send_due_reminders
    from shared.live.service import (
        cancel_session,
        get_session,
        join_session,
        list_sessions,
        reschedule_session,
        schedule_session,
        start_session,
    )
    from shared.live.sweeper import sweep_orphan_meetings
    from shared.live.webhooks import handle_zoom_webhook
    from shared.live.zoom_accounts import complete_connection as complete_zoom_connection
    from shared.live.zoom_accounts import connect_url as connect_zoom
    from shared.live.zoom_accounts import disconnect as disconnect_zoom
    from shared.live.zoom_accounts import get_connection as zoom_connection

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "IngestRetry",
    "batch_attendance",
    "batch_attendance_counts",
    "batch_attendance_csv",
    "calendar_feed",
    "calendar_url",
    "cancel_session",
    "complete_zoom_connection",
    "connect_zoom",
    "disconnect_zoom",
    "enqueue_recording_ingest",
    "get_session",
    "handle_zoom_webhook",
    "ingest_recording",
    "join_session",
    "list_sessions",
    "on_session_rescheduled",
    "recording_state",
    "reschedule_session",
    "schedule_session",
    "send_due_reminders",
    "session_attendance",
    "start_session",
    "student_attendance_rate",
    "sweep_orphan_meetings",
    "zoom_connection",
]
