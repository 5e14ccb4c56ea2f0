"""Pure rules of the staff pages (no I/O): the session cookie, CSRF tokens, where a login may
send the browser next, and how a moderation form reads.

The session cookie carries an ordinary access token (identity's): it expires with it, and
logout-all, password resets and refresh-token reuse end it like any other access token. The
cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it),
scoped to one channel's admin pages by its Path, and Secure outside local mode.

CSRF: every form carries a token that is an HMAC, under a server key, of what it is bound to:
the session (the access token's `jti`) and the channel, or, for the login form itself, a random
nonce held in a pre-login cookie (a signed double submit). A page of another site can neither
read the token nor compute it, and a token of one session or channel is worthless in another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")
SESSION_COOKIE = "cp_staff"
LOGIN_COOKIE = "cp_staff_login"
LOGIN_COOKIE_SECONDS = 600  # time to fill in the login form (and its second factor)
CSRF_FIELD = "csrf"
_CSRF_LABEL = "creator-platform admin-pages csrf v1"
# The page each staff page needs (channels.rules.POLICY actions); a login needs one of them.
PAGE_ACTIONS: dict[str, str] = {
    "moderation": "community.moderate",
    "analytics": "analytics.read",
}
MODERATION_ACTIONS = ("remove", "restore", "dismiss", "ban_user")
TARGET_TYPES = ("post", "comment")
MAX_BAN_DAYS = 3650
MAX_REASON = 500


def admin_path(slug: str, page: str = "") -> str:
    return f"/ch/{slug}/admin" + (f"/{page}" if page else "")


def cookie(name: str, value: str, *, slug: str, max_age: int, secure: bool) -> str:
    """A `Set-Cookie` value for the staff pages of one channel (max_age 0 clears it)."""
    parts = [
        f"{name}={value}",
        f"Max-Age={max(0, int(max_age))}",
        f"Path={admin_path(slug)}",
        "HttpOnly",
        "SameSite=Strict",
    ]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def cookie_value(header: str | None, name: str) -> str | None:
    """The value of cookie `name` in a `Cookie` request header (the last one wins: a cookie
    of a narrower path comes first, RFC 6265 5.4, and ours are the only ones on this path)."""
    found = None
    for part in (header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name and value:
            found = value.strip()
    return found


def derive_key(secret: bytes) -> bytes:
    """A key used for CSRF tokens only, derived from a server secret (domain separation)."""
    return hmac.new(secret, _CSRF_LABEL.encode(), hashlib.sha256).digest()


def csrf_token(key: bytes, *binding: str) -> str:
    msg = "\x1f".join(binding).encode()
    return base64.urlsafe_b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()


def csrf_valid(keys: Iterable[bytes], presented: str | None, *binding: str) -> bool:
    """Whether `presented` is the token of `binding` under one of `keys` (keys rotate)."""
    if not presented or not all(binding):
        return False
    return any(hmac.compare_digest(csrf_token(k, *binding), presented) for k in keys)


def session_binding(slug: str, jti: str) -> tuple[str, str, str]:
    return ("session", slug, jti)


def login_binding(slug: str, nonce: str) -> tuple[str, str, str]:
    return ("login", slug, nonce)


def safe_next(slug: str, value: str | None) -> str:
    """Where to go after signing in: a page of this channel's admin area, else its moderation
    page (never another site or channel: an open redirect would phish with our login)."""
    default = admin_path(slug, "moderation")
    if not value or "\\" in value or any(ord(c) < 0x20 for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith(admin_path(slug) + "/"):
        return default
    if parts.path.rstrip("/") in (admin_path(slug, "login"), admin_path(slug, "logout")):
        return default
    return value


def unstorable(form: Mapping[str, str]) -> bool:
    """Whether a form holds text Postgres cannot store (NUL): refused as bad input, never
    sent to a query (where it would be a server error)."""
    return any("\x00" in k or "\x00" in (v or "") for k, v in form.items())


@dataclass(frozen=True)
class ModerationForm:
    target_type: str
    target_id: str
    action: str
    reason: str
    ban_days: int | None


def moderation_form(form: Mapping[str, str]) -> ModerationForm | str:
    """The action a moderation form asks for, or what is wrong with it."""
    if unstorable(form):
        return "The form holds characters that cannot be stored."
    target_type = (form.get("target_type") or "").strip()
    target_id = (form.get("target_id") or "").strip()
    action = (form.get("action") or "").strip()
    reason = " ".join((form.get("reason") or "").split())
    if target_type not in TARGET_TYPES:
        return "Unknown target type."
    if not target_id or len(target_id) > 64:
        return "Missing target."
    if action not in MODERATION_ACTIONS:
        return "Unknown action."
    if len(reason) > MAX_REASON:
        return f"The reason is limited to {MAX_REASON} characters."
    ban_days: int | None = None
    if action == "ban_user":
        raw = (form.get("ban_days") or "").strip()
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_BAN_DAYS:
            return f"A ban lasts 1 to {MAX_BAN_DAYS} days."
        ban_days = int(raw)
    return ModerationForm(target_type, target_id, action, reason or action, ban_days)
