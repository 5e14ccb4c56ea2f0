"""A user's private calendar feed of live classes (GET /v1/me/calendar, GET /v1/calendar/...).

The feed holds the sessions of every batch the user is actively enrolled in, and every
session of the channels where they teach (instructor, admin, owner), cancelled ones marked.
The URL is the credential (calendar apps send no login): a token signed with the platform's
JWT keys naming the user and a nonce kept in `calendar_feeds`; asking for the URL again
replaces the nonce, which revokes every earlier URL. See calendar_rules for the token and the
iCalendar document.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from shared.live import calendar_rules as rules
from shared.platform.config import settings
from shared.platform.db import transaction
from shared.platform.errors import NotFound

TEACHES = ("owner", "admin", "instructor")
_SESSIONS = (
    "SELECT s.id, s.title, s.starts_at, s.duration_minutes, s.status, s.ics_sequence,"
    " s.join_url, s.batch_id, b.name AS batch_name, c.title AS course_title,"
    " ch.name AS channel_name"
    " FROM live_sessions s JOIN batches b ON b.id = s.batch_id"
    " JOIN courses c ON c.id = b.course_id JOIN channels ch ON ch.id = s.channel_id"
    " WHERE s.channel_id = app_channel_id()"
)


def _keys() -> tuple[str, list[str]]:
    s = settings()
    keys = s.jwt_key_map()
    return keys[s.jwt_active_kid] if s.jwt_active_kid in keys else list(keys.values())[-1], list(
        keys.values()
    )


def calendar_url(*, user_id: str) -> dict[str, str]:
    """A new private feed URL for the caller; every earlier one stops working."""
    nonce = secrets.token_urlsafe(18)
    with transaction(user_id=user_id) as tx:
        tx.exec(
            "INSERT INTO calendar_feeds (user_id, nonce) VALUES (:u, :n)"
            " ON CONFLICT (user_id) DO UPDATE SET nonce = EXCLUDED.nonce, created_at = now()",
            u=user_id,
            n=nonce,
        )
    active, _ = _keys()
    token = rules.make_token(user_id, nonce, active)
    base = settings().public_base_url.rstrip("/")
    return {"ics_url": f"{base}/v1/calendar/{token}.ics"}


def calendar_feed(*, token: str) -> bytes:
    """The iCalendar document of a valid, current token; 404 for anything else."""
    _, keys = _keys()
    read = rules.read_token(token, keys)
    if read is None:
        raise NotFound("No such calendar.")
    user_id, nonce = read
    with transaction(user_id=user_id) as tx:
        current = tx.scalar(
            "SELECT f.nonce FROM calendar_feeds f JOIN users u ON u.id = f.user_id"
            " WHERE f.user_id = :u AND u.erased_at IS NULL",
            u=user_id,
        )
        if current is None or not secrets.compare_digest(current, nonce):
            raise NotFound("No such calendar.")
        # the caller's own rows across channels (the *_own / memberships_read policies)
        enrolled = tx.all(
            "SELECT channel_id, batch_id FROM enrollments WHERE user_id = app_user_id()"
            " AND status = 'active' AND batch_id IS NOT NULL"
        )
        teaching = tx.all(
            "SELECT channel_id FROM memberships WHERE user_id = app_user_id()"
            " AND role = ANY(CAST(:r AS text[]))",
            r=list(TEACHES),
        )
    channels: dict[str, set[str] | None] = {}  # channel -> batches, None: every batch
    for t in teaching:
        channels[str(t["channel_id"])] = None
    for e in enrolled:
        batches = channels.setdefault(str(e["channel_id"]), set())
        if batches is not None:
            batches.add(str(e["batch_id"]))
    sessions: list[dict[str, Any]] = []
    for channel_id, batches in sorted(channels.items()):
        with transaction(channel_id=channel_id, user_id=user_id) as tx:
            if batches is None:
                sessions += tx.all(_SESSIONS + " ORDER BY s.starts_at, s.id")
            else:
                sessions += tx.all(
                    _SESSIONS + " AND s.batch_id = ANY(CAST(:b AS uuid[]))"
                    " ORDER BY s.starts_at, s.id",
                    b=sorted(batches),
                )
    sessions.sort(key=lambda s: (s["starts_at"], str(s["id"])))
    return rules.calendar(sessions, now=datetime.now(UTC).replace(microsecond=0))
