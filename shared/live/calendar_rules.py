"""Pure rules of the private calendar feed (no I/O): the signed feed token and the iCalendar
document (RFC 5545, written by the `icalendar` library).

Token: base64url(user id, 16 bytes + nonce) "." base64url(HMAC-SHA256(key, that)). The MAC is
checked before anything is read, so a guessed or mangled URL costs no database query; the
nonce must still be the user's current one, so asking for a new URL revokes the old one.

Calendar apps key an event on its UID and apply a change only when SEQUENCE grows: the UID is
the session's id (stable for its whole life), SEQUENCE its `ics_sequence` (bumped by the
database on every move, new length, new title or cancellation), and a cancelled session stays
in the feed as STATUS:CANCELLED so the apps remove it rather than keep a stale copy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

UID_DOMAIN = "live.creator-platform"
TOKEN_CONTEXT = b"calendar-feed-v1:"  # the JWT keys sign tokens of other kinds too


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, payload: bytes) -> bytes:
    return hmac.new(key.encode(), TOKEN_CONTEXT + payload, hashlib.sha256).digest()


def make_token(user_id: str, nonce: str, key: str) -> str:
    payload = uuid.UUID(user_id).bytes + nonce.encode()
    return f"{_b64(payload)}.{_b64(_mac(key, payload))}"


def read_token(token: str, keys: Iterable[str]) -> tuple[str, str] | None:
    """(user id, nonce) when one of `keys` signed `token`; None for anything else."""
    if len(token) > 200 or token.count(".") != 1:
        return None
    body, mac = token.split(".")
    try:
        payload, given = _unb64(body), _unb64(mac)
        nonce = payload[16:].decode("ascii")
        user_id = str(uuid.UUID(bytes=payload[:16]))
    except ValueError:  # bad base64, too short, not ASCII
        return None
    ok = [hmac.compare_digest(_mac(k, payload), given) for k in keys]  # no short-circuit
    if not any(ok) or not 16 <= len(nonce) <= 64:
        return None
    return user_id, nonce


def session_uid(session_id: str) -> str:
    return f"{session_id}@{UID_DOMAIN}"


def calendar(sessions: Iterable[Mapping[str, Any]], *, now: datetime) -> bytes:
    """The feed: one VEVENT per session (`id, title, starts_at, duration_minutes, status,
    ics_sequence, course_title, batch_name, channel_name, join_url` (None: not shown))."""
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//Creator Platform//Live classes//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "Live classes")
    for s in sessions:
        ev = Event()
        ev.add("uid", session_uid(str(s["id"])))
        ev.add("dtstamp", now)
        ev.add("dtstart", s["starts_at"])
        ev.add("dtend", s["starts_at"] + timedelta(minutes=s["duration_minutes"]))
        ev.add("summary", s["title"])
        ev.add("sequence", int(s["ics_sequence"]))
        cancelled = s["status"] == "cancelled"
        ev.add("status", "CANCELLED" if cancelled else "CONFIRMED")
        where = f"{s['course_title']} ({s['batch_name']}), {s['channel_name']}"
        ev.add("description", f"Live class of {where}")
        if s.get("join_url") and not cancelled:
            ev.add("location", s["join_url"])
            ev.add("url", s["join_url"])
        cal.add_component(ev)
    return bytes(cal.to_ical())
