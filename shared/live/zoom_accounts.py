"""Each channel's own Zoom account (issue 11 item 1): connect (OAuth authorization code),
read, disconnect, and the channel's meetings client with its tokens refreshed in time.

Tokens are sealed at rest with AES-256-GCM (shared.live.zoom_rules.seal) under a key of the
ZOOM_TOKEN_KEYS secret (JSON {kid: base64 32 bytes}); the row names its key (key_id). Rotation:
add a new kid to the secret and make it active (ZOOM_TOKEN_ACTIVE_KID, default the last one);
every refresh (at most an hour after the next use) re-seals the row with the active key, and
the old kid can be dropped once `SELECT count(*) FROM channel_zoom_accounts WHERE key_id =
'<old>'` is 0 (docs/DEPLOY.md). Locally, without the secret, a fixed development key is used;
it is refused outside local mode.

Refresh: an access token lives an hour; it is refreshed when it has under five minutes left
(or Zoom answered 401 with it), inside a transaction holding the row lock, so two requests of
one channel never both refresh (Zoom rotates the refresh token: the loser's refresh would
fail and disconnect the channel). The second one waits and reads the new token.

Who: connecting and disconnecting are the channel's owners and admins (`channel.update`), the
connection's state is shown to staff (`live.view_any`). The callback from Zoom carries no
login: the signed, single-use `state` names the channel and the user who asked.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from shared.channels import check_channel_id, require
from shared.live.zoom_rules import (
    STATE_TTL,
    expires_at,
    needs_refresh,
    parse_keys,
    read_state,
    seal,
    sign_state,
    unseal,
)
from shared.platform import audit
from shared.platform.config import settings
from shared.platform.db import Tx, transaction
from shared.platform.errors import BadRequest, Conflict, Unavailable
from shared.platform.ids import is_uuid, uuid7

log = logging.getLogger("zoom_accounts")
NOT_CONNECTED = (
    "The channel has no Zoom account connected: an owner or admin connects one with "
    "POST /v1/channels/{channel_id}/integrations/zoom, then schedules the class."
)
_ACCOUNT = (
    "channel_id, account_id, zoom_user_id, key_id, access_token_enc, refresh_token_enc,"
    " access_expires_at, scopes, connected_by, connected_at, refreshed_at"
)


class NotConnected(Conflict):
    slug, title = "zoom-not-connected", "Zoom account not connected"


# -- keys -------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _keyring() -> tuple[str, dict[str, bytes]]:
    s = settings()
    if s.zoom_token_keys is None:
        if not s.is_local:
            raise Unavailable("Zoom token keys are not configured (ZOOM_TOKEN_KEYS).")
        dev = hashlib.sha256(b"creator-platform local zoom token key").digest()
        return "local-dev", {"local-dev": dev}
    keys = parse_keys(s.zoom_token_keys.get_secret_value())
    active = s.zoom_token_active_kid or list(keys)[-1]
    if active not in keys:
        raise Unavailable("ZOOM_TOKEN_ACTIVE_KID names no key of ZOOM_TOKEN_KEYS.")
    return active, keys


def _seal(channel_id: str, access: str, refresh: str) -> tuple[str, bytes, bytes]:
    kid, keys = _keyring()
    return kid, seal(keys[kid], channel_id, access), seal(keys[kid], channel_id, refresh)


def _unseal(channel_id: str, kid: str, sealed: bytes) -> str:
    _, keys = _keyring()
    if kid not in keys:
        raise Unavailable(f"The key {kid!r} sealing this channel's Zoom tokens is gone.")
    return unseal(keys[kid], channel_id, sealed)


def _app() -> Any:
    from shared.adapters import zoom

    return zoom.oauth_app()


# -- connect ------------------------------------------------------------------------------------
def connect_url(*, channel_id: str, user_id: str) -> dict[str, str]:
    """A Zoom authorization link for the owner/admin to approve the channel's account."""
    now = datetime.now(UTC)
    state_id = uuid7()
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "channel.update")
        tx.exec(
            "INSERT INTO zoom_oauth_states (id, channel_id, user_id, expires_at)"
            " VALUES (:id, app_channel_id(), :u, :e)",
            id=state_id,
            u=user_id,
            e=now + STATE_TTL,
        )
        # Old links nobody used: keep the table small.
        tx.exec(
            "DELETE FROM zoom_oauth_states WHERE expires_at < :t",
            t=now - STATE_TTL,
        )
    kid, keys = _keyring()
    state = sign_state(
        state_id=state_id,
        channel_id=channel_id,
        user_id=user_id,
        expires=now + STATE_TTL,
        kid=kid,
        key=keys[kid],
    )
    return {"url": _app().authorize_url(state)}


def complete_connection(*, code: Any, state: Any, error: Any = None) -> dict[str, Any]:
    """Zoom's redirect back: check the state (signature, expiry, single use), exchange the
    code, learn the account, store the grant sealed. 400 for anything wrong with the link."""
    claims = read_state(state, _keyring()[1], datetime.now(UTC))
    if isinstance(claims, str):
        raise BadRequest(f"This Zoom authorization link is invalid ({claims}); start again.")
    channel_id, user_id, state_id = str(claims["c"]), str(claims["u"]), str(claims["s"])
    if not (is_uuid(channel_id) and is_uuid(user_id) and is_uuid(state_id)):
        raise BadRequest("This Zoom authorization link is invalid (malformed); start again.")
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        claimed = tx.one(
            "UPDATE zoom_oauth_states SET used_at = now() WHERE id = :id AND user_id = :u"
            " AND used_at IS NULL AND expires_at > now() RETURNING id",
            id=state_id,
            u=user_id,
        )
        if claimed is None:
            raise BadRequest("This Zoom authorization link was already used or has expired.")
        require(tx, user_id, "channel.update")  # still an owner/admin
    if error or not isinstance(code, str) or not code or len(code) > 2048:
        raise BadRequest("Zoom did not authorize the connection; start again.")
    app = _app()
    grant = app.exchange_code(code)
    me = app.me(grant.access_token)
    now = datetime.now(UTC)
    kid, access, refresh = _seal(channel_id, grant.access_token, grant.refresh_token)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        require(tx, user_id, "channel.update")
        previous = tx.one(
            "SELECT account_id FROM channel_zoom_accounts WHERE channel_id = app_channel_id()"
            " FOR UPDATE"
        )
        row = tx.one(
            "INSERT INTO channel_zoom_accounts (channel_id, account_id, zoom_user_id, key_id,"
            " access_token_enc, refresh_token_enc, access_expires_at, scopes, connected_by,"
            " connected_at) VALUES (app_channel_id(), :a, :z, :k, :at, :rt, :exp, :sc, :u, now())"
            " ON CONFLICT (channel_id) DO UPDATE SET account_id = EXCLUDED.account_id,"
            " zoom_user_id = EXCLUDED.zoom_user_id, key_id = EXCLUDED.key_id,"
            " access_token_enc = EXCLUDED.access_token_enc,"
            " refresh_token_enc = EXCLUDED.refresh_token_enc,"
            " access_expires_at = EXCLUDED.access_expires_at, scopes = EXCLUDED.scopes,"
            " connected_by = EXCLUDED.connected_by, connected_at = now(), refreshed_at = NULL"
            " RETURNING account_id, connected_at",
            a=str(me["account_id"]),
            z=str(me.get("id") or ""),
            k=kid,
            at=access,
            rt=refresh,
            exp=expires_at(now, grant.expires_in),
            sc=grant.scope,
            u=user_id,
        )
        assert row is not None
        payload = {
            "provider": "zoom",
            "account_id": row["account_id"],
            "replaced_account_id": previous["account_id"] if previous else None,
        }
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="live_provider.connected",
            target_type="channel",
            target_id=channel_id,
            payload=payload,
            details=payload,
        )
    return {
        "connected": True,
        "channel_id": channel_id,
        "account_id": row["account_id"],
        "connected_at": row["connected_at"],
    }


def get_connection(*, channel_id: str, user_id: str) -> dict[str, Any]:
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "live.view_any")
        row = tx.one(
            "SELECT account_id, connected_at FROM channel_zoom_accounts"
            " WHERE channel_id = app_channel_id()"
        )
    if row is None:
        return {"connected": False, "account_id": None, "connected_at": None}
    return {"connected": True, "account_id": row["account_id"], "connected_at": row["connected_at"]}


def disconnect(*, channel_id: str, user_id: str) -> None:
    """Revoke the grant at Zoom, then erase the row (tokens with it). Zoom failing leaves the
    row (the client retries); a grant Zoom no longer knows counts as revoked. Disconnecting
    twice answers the same."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "channel.update")
        row = tx.one(
            f"SELECT {_ACCOUNT} FROM channel_zoom_accounts WHERE channel_id = app_channel_id()"
        )
    if row is None:
        return
    try:
        token = _unseal(channel_id, row["key_id"], row["refresh_token_enc"])
    except Exception:  # a key lost to a botched rotation: nothing to revoke with
        log.warning("zoom tokens of channel %s do not open; erasing them", channel_id)
        token = None
    if token is not None:
        _app().revoke(token)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        require(tx, user_id, "channel.update")
        gone = tx.one(
            "DELETE FROM channel_zoom_accounts WHERE channel_id = app_channel_id()"
            " RETURNING account_id"
        )
        if gone is not None:
            payload = {"provider": "zoom", "account_id": gone["account_id"]}
            audit.record_change(
                tx,
                channel_id=channel_id,
                actor_user_id=user_id,
                action="live_provider.disconnected",
                target_type="channel",
                target_id=channel_id,
                payload=payload,
                details=payload,
            )


# -- tokens in use --------------------------------------------------------------------------
def connected_account(tx: Tx) -> str | None:
    """The account id of the transaction's channel, None when it has no Zoom connected."""
    return tx.scalar(
        "SELECT account_id FROM channel_zoom_accounts WHERE channel_id = app_channel_id()"
    )


def _refresh_locked(tx: Tx, channel_id: str, row: dict[str, Any]) -> str:
    """Refresh while holding the row lock; store the rotated pair before answering."""
    refresh = _unseal(channel_id, row["key_id"], row["refresh_token_enc"])
    grant = _app().refresh(refresh)
    kid, access, rotated = _seal(channel_id, grant.access_token, grant.refresh_token)
    tx.exec(
        "UPDATE channel_zoom_accounts SET key_id = :k, access_token_enc = :a,"
        " refresh_token_enc = :r, access_expires_at = :e, refreshed_at = now()"
        " WHERE channel_id = app_channel_id()",
        k=kid,
        a=access,
        r=rotated,
        e=expires_at(datetime.now(UTC), grant.expires_in),
    )
    return grant.access_token


def _fresh_token(channel_id: str, *, stale: str | None = None) -> str:
    with transaction(channel_id=channel_id) as tx:
        row = tx.one(f"SELECT {_ACCOUNT} FROM channel_zoom_accounts")
        if row is None:
            raise NotConnected(NOT_CONNECTED)
        current = _unseal(channel_id, row["key_id"], row["access_token_enc"])
        if stale is None and not needs_refresh(row["access_expires_at"], datetime.now(UTC)):
            return current
        if stale is not None and current != stale:
            return current  # someone refreshed since the caller read it
    with transaction(channel_id=channel_id) as tx:
        row = tx.one(f"SELECT {_ACCOUNT} FROM channel_zoom_accounts FOR UPDATE")
        if row is None:
            raise NotConnected(NOT_CONNECTED)
        current = _unseal(channel_id, row["key_id"], row["access_token_enc"])
        # Re-check under the lock: a concurrent request may have refreshed while we waited.
        if stale is None and not needs_refresh(row["access_expires_at"], datetime.now(UTC)):
            return current
        if stale is not None and current != stale:
            return current
        return _refresh_locked(tx, channel_id, row)


def access_token(channel_id: str) -> str:
    """The channel's usable access token (refreshed first when it is about to expire)."""
    return _fresh_token(channel_id)


class ChannelTokens:
    """The token source of one channel's meetings client."""

    def __init__(self, channel_id: str) -> None:
        self.channel_id = channel_id

    def token(self) -> str:
        return _fresh_token(self.channel_id)

    def renewed(self, stale: str) -> str:
        return _fresh_token(self.channel_id, stale=stale)


def meetings_of(channel_id: str) -> Any:
    """The channel's Zoom meetings client (NotConnected when it has none)."""
    return _app().meetings(ChannelTokens(channel_id))
