"""Pure rules of a channel's Zoom connection (no I/O): when a token is refreshed, the signed
OAuth `state`, tokens sealed at rest, and who may have a class's host link."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from datetime import datetime, timedelta
from typing import Any

REFRESH_MARGIN = timedelta(minutes=5)  # refresh early: a token must not expire in flight
STATE_TTL = timedelta(minutes=10)  # the owner has ten minutes to approve at Zoom
_NONCE = 12  # AES-GCM nonce bytes
HOSTING_ROLES = frozenset({"owner", "admin"})


def expires_at(now: datetime, expires_in: int) -> datetime:
    return now + timedelta(seconds=max(0, int(expires_in)))


def needs_refresh(access_expires_at: datetime, now: datetime) -> bool:
    """Whether the stored access token is expired or about to be."""
    return now >= access_expires_at - REFRESH_MARGIN


def may_start(*, role: str | None, user_id: str, created_by: str) -> bool:
    """The host link (it carries the host's ZAK) goes only to the session's instructor (its
    creator) and the channel's owners and admins."""
    if role is None:
        return False
    return role in HOSTING_ROLES or str(user_id) == str(created_by)


# -- keys ------------------------------------------------------------------------------------
def parse_keys(raw: str) -> dict[str, bytes]:
    """ZOOM_TOKEN_KEYS: JSON {kid: base64 of 32 random bytes}. Several during a rotation."""
    data = json.loads(raw)
    if not isinstance(data, dict) or not data:
        raise ValueError("ZOOM_TOKEN_KEYS must be a JSON object {kid: base64 key}")
    keys = {}
    for kid, value in data.items():
        key = base64.urlsafe_b64decode(str(value) + "=" * (-len(str(value)) % 4))
        if len(key) != 32:
            raise ValueError(f"ZOOM_TOKEN_KEYS[{kid!r}] must be 32 bytes (AES-256)")
        keys[str(kid)] = key
    return keys


def _derived(key: bytes, purpose: bytes) -> bytes:
    """A separate key per use of one secret (sealing tokens vs. signing states)."""
    return hmac.new(key, b"creator-platform/zoom/" + purpose, hashlib.sha256).digest()


# -- tokens at rest ------------------------------------------------------------------------------
def seal(key: bytes, channel_id: str, plaintext: str) -> bytes:
    """AES-256-GCM, nonce first; the channel id is authenticated data, so a sealed token
    copied into another channel's row does not open."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_NONCE)
    box = AESGCM(_derived(key, b"tokens"))
    return nonce + box.encrypt(nonce, plaintext.encode(), str(channel_id).encode())


def unseal(key: bytes, channel_id: str, sealed: bytes) -> str:
    """The token; raises (cryptography's InvalidTag) when key, channel or bytes differ."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    box = AESGCM(_derived(key, b"tokens"))
    data = bytes(sealed)
    return box.decrypt(data[:_NONCE], data[_NONCE:], str(channel_id).encode()).decode()


# -- the OAuth state ---------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_state(
    *, state_id: str, channel_id: str, user_id: str, expires: datetime, kid: str, key: bytes
) -> str:
    """`state` of an authorization link: who asked, for which channel, until when; HMAC'd so
    the callback can trust it, and naming a row that makes it single use."""
    body = json.dumps(
        {
            "s": state_id,
            "c": channel_id,
            "u": user_id,
            "exp": int(expires.timestamp()),
            "k": kid,
        },
        separators=(",", ":"),
    ).encode()
    mac = hmac.new(_derived(key, b"state"), body, hashlib.sha256).digest()
    return f"{_b64(body)}.{_b64(mac)}"


def read_state(state: Any, keys: dict[str, bytes], now: datetime) -> dict[str, Any] | str:
    """The state's claims, or why it is refused ("malformed", "bad signature", "expired")."""
    if not isinstance(state, str) or state.count(".") != 1 or len(state) > 1024:
        return "malformed"
    body_b64, mac_b64 = state.split(".")
    try:
        body, mac = _unb64(body_b64), _unb64(mac_b64)
        claims = json.loads(body)
    except ValueError:
        return "malformed"
    if not isinstance(claims, dict) or not {"s", "c", "u", "exp", "k"} <= set(claims):
        return "malformed"
    key = keys.get(str(claims["k"]))
    if key is None:
        return "bad signature"
    want = hmac.new(_derived(key, b"state"), body, hashlib.sha256).digest()
    if not hmac.compare_digest(want, mac):
        return "bad signature"
    if not isinstance(claims["exp"], int) or now.timestamp() > claims["exp"]:
        return "expired"
    return claims
