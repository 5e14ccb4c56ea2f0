"""Answer and query shapes of live classes' routes (issue 11): sessions as answered, the
channel's Zoom connection, start and join links."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.platform.models import Model, Out


class LiveSessionOut(Out):
    id: str
    batch_id: str
    title: str
    starts_at: datetime
    duration_minutes: int
    provider: Literal["zoom"]
    status: Literal["scheduled", "live", "ended", "cancelled"] = Field(
        description="`live` and `ended` are set by the provider's meeting.started/ended events"
    )
    join_url: str | None = Field(
        description="Staff and active students of this batch; null for everyone else and "
        "once the session is cancelled"
    )
    provider_meeting_id: str | None = Field(description="Zoom's meeting id; staff only")
    provider_account_id: str | None = Field(
        description="The Zoom account the meeting was created under; staff only"
    )
    recording_lesson_id: str | None = Field(
        description="The video lesson the class's recording became, once it did"
    )
    created_at: datetime


class LiveSessionList(Out):
    items: list[LiveSessionOut]
    next_cursor: str | None


class StartLink(Out):
    start_url: str = Field(
        description="The host's link, fresh from Zoom (it carries a short-lived host key); "
        "never stored by the platform"
    )


class JoinLink(Out):
    join_url: str


class ZoomConnectLink(Out):
    url: str = Field(description="Zoom's authorization page; the owner approves there")


class ZoomConnection(Out):
    connected: bool
    account_id: str | None = None
    connected_at: datetime | None = None


class ZoomConnected(Out):
    connected: bool
    channel_id: str
    account_id: str
    connected_at: datetime


class ZoomCallbackQuery(Model):
    """Zoom's redirect back: `code` and our `state`, or `error` when the owner declined."""

    code: str | None = Field(default=None, max_length=2048)
    state: str = Field(max_length=1024)
    error: str | None = Field(default=None, max_length=200)


# -- attendance, the live webhook, calendars (helper L2) ------------------------------------
class AttendanceRow(Out):
    user_id: str | None = Field(description="The student; null for a guest nobody matched")
    display_name: str | None
    email: str | None
    guest: bool = Field(description="Not matched to a student of the batch (kept apart)")
    attended_seconds: int = Field(description="Seconds in the meeting, overlaps counted once")
    attended: bool = Field(
        description="At least the channel's threshold (default 50%) of the scheduled length"
    )
    first_join_at: datetime | None
    last_leave_at: datetime | None


class AttendanceList(Out):
    items: list[AttendanceRow] = Field(description="Students of the batch, then guests")
    next_cursor: str | None = Field(description="Always null: every row is listed")


class SessionRate(Out):
    session_id: str
    title: str
    starts_at: datetime
    status: str
    attendance_rate: float | None = Field(
        description="Students present / students of the batch; null until the session starts"
    )


class StudentRate(Out):
    user_id: str
    display_name: str | None
    sessions_attended: int = Field(description="Ended sessions the student attended")
    attendance_rate: float | None = Field(
        description="Ended sessions attended / ended sessions; null while none has ended"
    )


class BatchAttendance(Out):
    sessions: list[SessionRate]
    students: list[StudentRate]


class ZoomWebhookAck(Out):
    """The answer to a Zoom event, or to Zoom's `endpoint.url_validation` challenge."""

    received: bool | None = Field(default=None, description="An event was handled")
    status: str | None = Field(
        default=None, description="applied, queued, duplicate or ignored (not ours to act on)"
    )
    plainToken: str | None = Field(default=None, description="The challenge's token, echoed")
    encryptedToken: str | None = Field(
        default=None, description="Hex HMAC-SHA256 of plainToken under the webhook secret token"
    )


class CalendarFeed(Out):
    ics_url: str = Field(
        description="The private feed's URL; asking again gives a new one and revokes this one"
    )
