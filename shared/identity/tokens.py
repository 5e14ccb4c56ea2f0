"""Access tokens: short-lived JWTs (RFC 7519/9068 shape), HS256 with a key id.

Written on the stdlib rather than PyJWT because PyJWT drags in `cryptography` (~50 ms on every
cold start of every authenticated function) for an algorithm we pin to HMAC anyway. The rules
of RFC 8725 are kept: the signature is checked first, the algorithm comes from an allow-list
and never from the token, `kid` only selects among configured keys, and exp/iss/aud/typ are
all required. Keys rotate: JWT_KEYS holds every key that still verifies, JWT_ACTIVE_KID signs.

Revocation: a token issued before its user's "tokens valid after" instant (set by logout,
logout-all, password reset and refresh-token reuse) is refused. The instant is read from the
database at most once per user every few seconds per process (rules.VALID_AFTER_CACHE_SECONDS),
so revoking ends every access token within seconds, at one indexed read per user and window.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from shared.identity import rules, session
from shared.platform.config import settings
from shared.platform.errors import Unauthorized
from shared.platform.ids import is_uuid, uuid7

TOKEN_TYPE = "at+jwt"
LEEWAY_SECONDS = 30


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def issue_access_token(
    user_id: str, *, now: float | None = None, second_factor: bool = False
) -> tuple[str, int]:
    """A signed access token; `amr` (RFC 8176) says how the session was opened."""
    s = settings()
    now = time.time() if now is None else now
    ttl = s.access_token_ttl_seconds
    header = {"alg": "HS256", "typ": TOKEN_TYPE, "kid": s.jwt_active_kid}
    claims = {
        "iss": s.jwt_issuer,
        "aud": s.jwt_audience,
        "sub": user_id,
        "iat": int(now),
        "exp": int(now) + ttl,
        "jti": uuid7(),
        "amr": ["pwd", "otp"] if second_factor else ["pwd"],
    }
    signing_input = (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(claims, separators=(",", ":")).encode())
    )
    key = s.jwt_key_map()[s.jwt_active_kid].encode()
    sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(sig)}", ttl


# Tokens whose signature, key, issuer, audience and subject were checked, with the settings
# they were checked against: a client sends the same token for its whole lifetime, and the
# checks cost ~45 us of Python per request. Expiry is checked on every use; a change of keys
# (new settings) checks again.
_verified: dict[str, tuple[object, dict[str, Any]]] = {}
_VERIFIED_MAX = 10_000


def verify_access_token(token: str, *, now: float | None = None) -> dict[str, Any]:
    """Return the claims of a valid access token, or raise Unauthorized."""
    s = settings()
    known = _verified.get(token)
    if known is not None and known[0] is s:
        claims = known[1]
    else:
        claims = _check(token, s)
        if len(_verified) >= _VERIFIED_MAX:
            _verified.clear()
        _verified[token] = (s, claims)
    now = time.time() if now is None else now
    if claims["exp"] + LEEWAY_SECONDS < now:
        raise Unauthorized("The access token is missing, invalid or expired.")
    if rules.revoked(rules.issued_ms(claims), valid_after_ms(claims["sub"])):
        raise Unauthorized("The access token is missing, invalid or expired.")
    session.remember(claims["sub"], second_factor=rules.used_second_factor(claims))
    return claims


def _load_valid_after(user_id: str) -> int | None:
    """The user's "tokens valid after" instant in epoch milliseconds (None: never revoked).
    One autocommit statement on the primary key."""
    from shared.platform import db

    rows = db.call(
        "SELECT (extract(epoch FROM tokens_valid_after) * 1000)::bigint AS ms"
        " FROM users WHERE id = :u",
        u=user_id,
    )
    return int(rows[0]["ms"]) if rows and rows[0]["ms"] is not None else None


# user id -> (monotonic time read, valid-after ms). Tests replace `load_valid_after`/`clock`.
_valid_after: dict[str, tuple[float, int | None]] = {}
load_valid_after: Callable[[str], int | None] = _load_valid_after
clock: Callable[[], float] = time.monotonic


def valid_after_ms(user_id: str) -> int | None:
    """The cached instant before which `user_id`'s tokens are refused.

    A subject that is not a UUID names no account row (ids are UUIDv7), so it has nothing to
    look up."""
    if not is_uuid(user_id):
        return None
    now = clock()
    known = _valid_after.get(user_id)
    if known is not None and rules.cache_is_fresh(known[0], now):
        return known[1]
    value = load_valid_after(user_id)
    if len(_valid_after) >= _VERIFIED_MAX:
        _valid_after.clear()
    _valid_after[user_id] = (now, value)
    return value


def revoke_before(user_id: str, valid_after: int) -> None:
    """This process learns a revocation it made at once (others within the cache window)."""
    _valid_after[user_id] = (clock(), valid_after)


def _check(token: str, s: Any) -> dict[str, Any]:
    """Everything but expiry; raises Unauthorized."""
    try:
        h64, p64, s64 = token.split(".")
        header = json.loads(_unb64(h64))
        if header.get("alg") != "HS256" or header.get("typ") != TOKEN_TYPE:
            raise ValueError("algorithm or type not allowed")
        key = s.jwt_key_map().get(str(header.get("kid")))
        if key is None:
            raise ValueError("unknown key id")
        expected = hmac.new(key.encode(), f"{h64}.{p64}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(s64)):
            raise ValueError("bad signature")
        claims = json.loads(_unb64(p64))
        if not isinstance(claims.get("exp"), int):
            raise ValueError("no expiry")
        if claims.get("iss") != s.jwt_issuer or claims.get("aud") != s.jwt_audience:
            raise ValueError("wrong issuer or audience")
        if not isinstance(claims.get("sub"), str):
            raise ValueError("no subject")
    except (ValueError, TypeError, AttributeError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Unauthorized("The access token is missing, invalid or expired.") from e
    return claims
