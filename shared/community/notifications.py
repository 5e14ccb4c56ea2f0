"""A member's in-app notifications (replies, mentions, moderation outcomes, live-session
changes), their preferences, and the signed one-click unsubscribe link of the email digest.

Notifications are written in the transaction of what caused them (shared/community/common.py
`notify`; live-session changes: shared/community/live_notices.py). The digest
(shared/community/digest.py) carries an unsubscribe link signed by the platform's JWT key
(HMAC, domain-separated), so it works without signing in and a tampered link is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from shared.community.common import when
from shared.community.schemas import NotificationsReadIn, PreferencesIn
from shared.platform import outbox
from shared.platform.config import settings
from shared.platform.db import transaction
from shared.platform.errors import Forbidden, Unauthorized, Unprocessable
from shared.platform.ids import is_uuid
from shared.platform.pagination import decode_cursor, page

CONSUMER = "community_notifier"
LIVE_EVENTS = ("live_session.rescheduled", "live_session.cancelled")
_MAX_UUID = "ffffffff-ffff-ffff-ffff-ffffffffffff"
_PREFS = ("replies", "mentions", "moderation", "live_sessions", "email_digest")


def _user(user_id: str | None) -> str:
    if not user_id:
        raise Unauthorized("Sign in first.")
    return user_id


# -- the caller's notifications -------------------------------------------------------------
def my_notifications(
    *, user_id: str | None, limit: int, cursor: str | None, unread: bool = False
) -> dict[str, Any]:
    """Newest first, across every channel; `unread_count` counts all unread ones."""
    uid = _user(user_id)
    before = (decode_cursor(cursor) or {}).get("id", _MAX_UUID)
    if not is_uuid(before):
        raise Unprocessable("Invalid cursor.")
    with transaction(user_id=uid) as tx:
        rows = tx.all(
            "SELECT id, channel_id, kind, title, body, link, actor_id, target_type, target_id,"
            " created_at, read_at FROM notifications WHERE user_id = app_user_id()"
            " AND id < CAST(:b AS uuid)"
            + (" AND read_at IS NULL" if unread else "")
            + " ORDER BY id DESC LIMIT :n",
            b=before,
            n=limit + 1,
        )
        unread_count = tx.scalar(
            "SELECT count(*) FROM notifications WHERE user_id = app_user_id() AND read_at IS NULL"
        )
    items = [
        {
            "id": str(r["id"]),
            "channel_id": str(r["channel_id"]),
            "kind": r["kind"],
            "title": r["title"],
            "body": r["body"],
            "link": r["link"],
            "actor_id": str(r["actor_id"]) if r["actor_id"] else None,
            "target_type": r["target_type"],
            "target_id": str(r["target_id"]) if r["target_id"] else None,
            "created_at": when(r["created_at"]),
            "read_at": when(r["read_at"]),
        }
        for r in rows
    ]
    out = page(items, limit, lambda n: {"id": n["id"]})
    out["unread_count"] = int(unread_count or 0)
    return out


def mark_read(*, user_id: str | None, data: NotificationsReadIn) -> None:
    """Mark the given notifications (or all) read; each channel's change is one
    `notification.read` event for the projection."""
    uid = _user(user_id)
    ids = [i for i in (data.ids or []) if is_uuid(i)]
    if data.ids is not None and not ids:
        return
    with transaction(user_id=uid) as tx:
        channels = tx.all(
            "SELECT DISTINCT channel_id FROM notifications WHERE user_id = app_user_id()"
            " AND read_at IS NULL"
            + ("" if data.ids is None else " AND id = ANY(CAST(:ids AS uuid[]))"),
            **({} if data.ids is None else {"ids": ids}),
        )
    for ch in channels:
        channel_id = str(ch["channel_id"])
        with transaction(channel_id=channel_id, user_id=uid) as tx:
            done = tx.all(
                "UPDATE notifications SET read_at = now() WHERE channel_id = app_channel_id()"
                " AND user_id = app_user_id() AND read_at IS NULL"
                + ("" if data.ids is None else " AND id = ANY(CAST(:ids AS uuid[]))")
                + " RETURNING id",
                **({} if data.ids is None else {"ids": ids}),
            )
            if done:
                outbox.add(
                    tx,
                    channel_id=channel_id,
                    event_type="notification.read",
                    payload={
                        "channel_id": channel_id,
                        "user_id": uid,
                        "notification_ids": [str(r["id"]) for r in done],
                        "version": 2,
                    },
                )


def get_preferences(*, user_id: str | None) -> dict[str, Any]:
    uid = _user(user_id)
    with transaction(user_id=uid) as tx:
        row = tx.one(
            f"SELECT {', '.join(_PREFS)} FROM notification_preferences"
            " WHERE user_id = app_user_id()"
        )
    return {k: bool(row[k]) if row else True for k in _PREFS}


def put_preferences(*, user_id: str | None, data: PreferencesIn) -> dict[str, Any]:
    uid = _user(user_id)
    with transaction(user_id=uid) as tx:
        _save_preferences(tx, data.model_dump())
    return data.model_dump()


def _save_preferences(tx: Any, prefs: dict[str, bool]) -> None:
    tx.exec(
        "INSERT INTO notification_preferences (user_id, replies, mentions, moderation,"
        " live_sessions, email_digest) VALUES (app_user_id(), :replies, :mentions, :moderation,"
        " :live_sessions, :email_digest) ON CONFLICT (user_id) DO UPDATE SET"
        " replies = EXCLUDED.replies, mentions = EXCLUDED.mentions,"
        " moderation = EXCLUDED.moderation, live_sessions = EXCLUDED.live_sessions,"
        " email_digest = EXCLUDED.email_digest, updated_at = now()",
        **prefs,
    )


# -- unsubscribe ----------------------------------------------------------------------------
def _signing_key() -> tuple[str, bytes]:
    keys: dict[str, str] = json.loads(settings().jwt_keys.get_secret_value())
    kid = sorted(keys)[-1]
    return kid, keys[kid].encode()


def _sign(kid: str, key: bytes, user_id: str) -> str:
    mac = hmac.new(key, f"community-unsubscribe:{kid}:{user_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def unsubscribe_token(user_id: str) -> str:
    """`<user_id>.<kid>.<HMAC>`: names the person, needs no login, cannot be forged."""
    kid, key = _signing_key()
    return f"{user_id}.{kid}.{_sign(kid, key, user_id)}"


def unsubscribe_url(user_id: str) -> str:
    base = settings().public_base_url.rstrip("/")
    return f"{base}/v1/notifications/unsubscribe?token={unsubscribe_token(user_id)}"


def unsubscribe(*, token: str) -> dict[str, Any]:
    """Turn the email digest off for the person the signed token names (RFC 8058 one-click).
    A token that does not verify is 403 and changes nothing."""
    user_id, _, rest = token.partition(".")
    kid, _, sig = rest.partition(".")
    keys: dict[str, str] = json.loads(settings().jwt_keys.get_secret_value())
    key = keys.get(kid)
    if not (is_uuid(user_id) and key and sig):
        raise Forbidden("This unsubscribe link is not valid.")
    if not hmac.compare_digest(_sign(kid, key.encode(), user_id), sig):
        raise Forbidden("This unsubscribe link is not valid.")
    with transaction(user_id=user_id) as tx:
        if not tx.scalar("SELECT 1 FROM users WHERE id = :u AND erased_at IS NULL", u=user_id):
            raise Forbidden("This unsubscribe link is not valid.")
        current = tx.one(
            f"SELECT {', '.join(_PREFS)} FROM notification_preferences"
            " WHERE user_id = app_user_id()"
        )
        prefs = {k: bool(current[k]) if current else True for k in _PREFS}
        prefs["email_digest"] = False
        _save_preferences(tx, prefs)
    return {"unsubscribed": True}
