"""Pure rules of the webhook-driven half of live classes (no I/O): Zoom's webhook signature,
what a delivery's dedupe key is, how participant events become attended seconds, who counts
as present, and which reminder is due."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

TOLERANCE_SECONDS = 300
DEFAULT_THRESHOLD_PCT = 50
REMINDERS = (("24h", timedelta(hours=24)), ("1h", timedelta(hours=1)))  # furthest first
PARTICIPANT_EVENTS = {
    "meeting.participant_joined": "join",
    "meeting.participant_left": "leave",
}


# -- signature ------------------------------------------------------------------------------
class BadSignature(Exception):
    """Missing, malformed, wrong or stale: the request is refused and nothing is written."""


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """Zoom's `x-zm-signature`: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{raw body}`."""
    message = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    secret: str,
    *,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Raise BadSignature unless `signature` signs `body` at `timestamp`, within `tolerance`
    seconds of `now` either way. Constant-time compare; the timestamp is checked after the
    MAC so a stale request learns nothing a wrong one would not."""
    if not signature or not timestamp:
        raise BadSignature("missing x-zm-signature or x-zm-request-timestamp")
    if len(timestamp) > 20 or not timestamp.isdigit() or len(signature) > 200:
        raise BadSignature("malformed x-zm-signature or x-zm-request-timestamp")
    expected = sign(body, secret, int(timestamp))
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise BadSignature("signature does not match")
    if abs(now - int(timestamp)) > tolerance:
        raise BadSignature("timestamp outside the 300 s window")


def encrypted_token(plain_token: str, secret: str) -> str:
    """The `encryptedToken` of Zoom's endpoint.url_validation challenge."""
    return hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


def dedupe_key(event: str, event_ts: int, body: bytes) -> str:
    """One key per delivery: Zoom redelivers the same event, event_ts and payload."""
    h = hashlib.sha256()
    for part in (event.encode(), str(event_ts).encode(), hashlib.sha256(body).digest()):
        h.update(len(part).to_bytes(4, "big") + part)
    return h.hexdigest()


# -- reading Zoom's payload -----------------------------------------------------------------
class NotAnEvent(Exception):
    """A signed request that is not a Zoom event we can read: 400."""


@dataclass(frozen=True)
class Event:
    event: str
    event_ts: int
    account_id: str | None
    meeting_id: str | None
    obj: Mapping[str, Any]  # payload.object
    payload: Mapping[str, Any]
    raw: Mapping[str, Any]  # the whole event, as Zoom sent it


def parse_event(body: bytes) -> Event:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise NotAnEvent("the body is not JSON") from e
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        raise NotAnEvent("no event name")
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise NotAnEvent("no payload")
    ts = data.get("event_ts")
    if data["event"] != "endpoint.url_validation" and (
        not isinstance(ts, int) or isinstance(ts, bool) or ts < 0
    ):
        raise NotAnEvent("no event_ts")
    obj = payload.get("object")
    obj = obj if isinstance(obj, dict) else {}
    account = payload.get("account_id")
    meeting = obj.get("id")
    return Event(
        event=data["event"][:100],
        event_ts=ts if isinstance(ts, int) else 0,
        account_id=str(account) if isinstance(account, str | int) and account != "" else None,
        meeting_id=str(meeting) if isinstance(meeting, str | int) and meeting != "" else None,
        obj=obj,
        payload=payload,
        raw=data,
    )


def parse_zoom_time(value: Any) -> datetime | None:
    """Zoom writes `2031-03-01T07:00:05Z`; anything else is None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at.astimezone(UTC) if at.tzinfo else None


@dataclass(frozen=True)
class Participation:
    kind: str  # join | leave
    device_key: str
    at: datetime
    registrant_id: str | None
    email: str | None
    display_name: str | None


def _text(value: Any, limit: int) -> str | None:
    return str(value)[:limit] if isinstance(value, str | int) and str(value) else None


def participation(event: Event) -> Participation | None:
    """A join or leave of one device, or None when the payload lacks what one needs.
    The device is Zoom's participant_uuid (one per join of one client), else its in-meeting
    user_id, else the email with the name."""
    kind = PARTICIPANT_EVENTS.get(event.event)
    p = event.obj.get("participant")
    if kind is None or not isinstance(p, dict):
        return None
    at = parse_zoom_time(p.get("join_time" if kind == "join" else "leave_time"))
    email = _text(p.get("email"), 320)
    name = _text(p.get("user_name"), 300)
    device = _text(p.get("participant_uuid"), 300) or _text(p.get("user_id"), 300)
    if device is None and (email or name):
        device = f"{(email or '').lower()}|{name or ''}"[:300]
    if at is None or device is None:
        return None
    return Participation(
        kind=kind,
        device_key=device,
        at=at,
        registrant_id=_text(p.get("registrant_id"), 200),
        email=email,
        display_name=name,
    )


# -- attendance -----------------------------------------------------------------------------
Interval = tuple[datetime, datetime]


def device_intervals(
    events: Iterable[tuple[str, datetime]], *, opened_at: datetime, closed_at: datetime
) -> list[Interval]:
    """One device's (kind, at) events -> the intervals it was in, whatever order they came
    in and however often. Sorted by time, a join opens (a second join while open changes
    nothing), a leave closes; a leave with no join before it was joined since the meeting
    opened (`opened_at`), a join with no leave after it stays until `closed_at` (the end,
    or now while the meeting runs). Everything is clipped to [opened_at, closed_at]."""
    out: list[Interval] = []
    start: datetime | None = None
    seen_any = False
    # at a tie a join sorts first: a zero-length reconnect stays one interval
    for kind, at in sorted(set(events), key=lambda e: (e[1], e[0] != "join")):
        if kind == "join":
            if start is None:
                start = at
        elif start is not None:
            out.append((start, at))
            start = None
        elif not seen_any:
            out.append((opened_at, at))
        seen_any = True
    if start is not None:
        out.append((start, closed_at))
    clipped = [(max(a, opened_at), min(b, closed_at)) for a, b in out]
    return [(a, b) for a, b in clipped if b > a]


def union_seconds(intervals: Iterable[Interval]) -> int:
    """Seconds covered by at least one interval: overlaps (several devices, reconnects,
    duplicates) count once."""
    total = 0.0
    end: datetime | None = None
    start: datetime | None = None
    for a, b in sorted(intervals):
        if end is None or a > end:
            if end is not None and start is not None:
                total += (end - start).total_seconds()
            start, end = a, b
        elif b > end:
            end = b
    if end is not None and start is not None:
        total += (end - start).total_seconds()
    return int(total)


def attended(seconds: int, duration_minutes: int, threshold_pct: int) -> bool:
    """Present when the attended seconds reach the channel's share of the scheduled length."""
    return seconds * 100 >= duration_minutes * 60 * threshold_pct


def window(
    *,
    scheduled_start: datetime,
    started_at: datetime | None,
    ended_at: datetime | None,
    duration_minutes: int,
    now: datetime,
) -> tuple[datetime, datetime]:
    """The span attendance is counted in: from Zoom's start (else the scheduled one) to Zoom's
    end (else now, but never past the scheduled end plus a day)."""
    opened = started_at or scheduled_start
    cap = scheduled_start + timedelta(minutes=duration_minutes) + timedelta(days=1)
    closed = ended_at or min(now, cap)
    return opened, max(opened, closed)


@dataclass(frozen=True)
class Row:
    device_key: str
    kind: str
    at: datetime
    registrant_id: str | None
    email: str | None
    display_name: str | None


def attribute(
    rows: Sequence[Row], *, registrants: Mapping[str, str], emails: Mapping[str, str]
) -> tuple[dict[str, list[Row]], dict[str, list[Row]]]:
    """Rows by student (registrant id first, else email case-insensitively) and, apart, by
    guest device (nobody we know). A device is attributed as a whole: the first row that
    names a known student decides."""
    by_device: dict[str, list[Row]] = {}
    for r in rows:
        by_device.setdefault(r.device_key, []).append(r)
    students: dict[str, list[Row]] = {}
    guests: dict[str, list[Row]] = {}
    for device, rs in by_device.items():
        who = None
        for r in rs:
            if r.registrant_id and r.registrant_id in registrants:
                who = registrants[r.registrant_id]
                break
        if who is None:
            for r in rs:
                if r.email and r.email.lower() in emails:
                    who = emails[r.email.lower()]
                    break
        (students.setdefault(who, []) if who else guests.setdefault(device, [])).extend(rs)
    return students, guests


def seconds_of(rows: Sequence[Row], *, opened_at: datetime, closed_at: datetime) -> int:
    """Attended seconds of one person over all their devices."""
    per_device: dict[str, list[tuple[str, datetime]]] = {}
    for r in rows:
        per_device.setdefault(r.device_key, []).append((r.kind, r.at))
    intervals: list[Interval] = []
    for evs in per_device.values():
        intervals += device_intervals(evs, opened_at=opened_at, closed_at=closed_at)
    return union_seconds(intervals)


def rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


# -- reminders ------------------------------------------------------------------------------
def due_reminder(starts_at: datetime, now: datetime) -> str | None:
    """The reminder to send now: `1h` within the last hour, `24h` within the last day (before
    the last hour), nothing once started or further away."""
    if starts_at <= now:
        return None
    for kind, ahead in reversed(REMINDERS):
        if now >= starts_at - ahead:
            return kind
    return None
