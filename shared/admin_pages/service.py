"""Staff pages of a channel (issue 12 item 3, issue 14 item 3): sign-in by cookie, the
moderation queue and the analytics dashboard, server-rendered with jinja2.

The pages call the capabilities' own use cases (community, analytics, catalog), which check the
caller's role themselves; this module adds the browser session (rules.py), CSRF checks and the
HTML. No script runs on these pages: forms post back and are answered with a redirect (PRG),
and the Content-Security-Policy allows only the page's own stylesheet, pinned by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from shared import channels, identity
from shared.admin_pages import rules
from shared.platform import templating
from shared.platform.config import settings
from shared.platform.db import Tx, transaction
from shared.platform.errors import (
    DomainError,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthorized,
    Unprocessable,
)

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).with_name("templates")


def env() -> jinja2.Environment:
    return templating.environment(TEMPLATES)


@dataclass
class Page:
    """An answer: status, body and headers (a list: Set-Cookie may come twice)."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class StaffSession:
    user_id: str
    channel_id: str
    slug: str
    channel_name: str
    role: str
    csrf: str  # the token this session's forms carry
    jti: str
    expires_at: int


# -- keys, cookies ---------------------------------------------------------------------------
def _keys() -> list[bytes]:
    """CSRF keys derived from every configured token key (the active one first): a key
    rotation does not void the forms already on screen."""
    s = settings()
    keys = s.jwt_key_map()
    order = [s.jwt_active_kid, *(k for k in keys if k != s.jwt_active_kid)]
    return [rules.derive_key(keys[k].encode()) for k in order if k in keys]


def _secure() -> bool:
    return not settings().is_local


def _set_cookie(name: str, value: str, slug: str, max_age: int) -> tuple[str, str]:
    return (
        "Set-Cookie",
        rules.cookie(name, value, slug=slug, max_age=max_age, secure=_secure()),
    )


def redirect(location: str, *cookies: tuple[str, str]) -> Page:
    return Page(303, b"", [("Location", location), ("Cache-Control", "no-store"), *cookies])


# -- rendering -------------------------------------------------------------------------------
def render(template: str, status: int = 200, *extra: tuple[str, str], **context: Any) -> Page:
    css = env().get_template("admin.css").render()
    css_hash = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    html = env().get_template(template).render(css=css, **context)
    headers = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Cache-Control", "no-store"),
        (
            "Content-Security-Policy",
            f"default-src 'none'; style-src 'sha256-{css_hash}'; img-src 'self' data:;"
            " base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        *extra,
    ]
    return Page(status, html.encode(), headers)


def as_page(run: Callable[[], Page], *, slug: str, path: str) -> Page:
    """`run()`'s page, or its refusal as a page (see error_page)."""
    try:
        return run()
    except DomainError as e:
        return error_page(slug=slug, error=e, path=path)


def error_page(*, slug: str, error: DomainError, path: str) -> Page:
    """A refused request as a page: no session -> the login form (then back to `path`)."""
    if isinstance(error, Unauthorized):
        if not rules.SLUG.match(slug or ""):
            # No channel can have this slug: nothing to sign in to.
            error = NotFound("No such channel.")
        else:
            target = rules.admin_path(slug, "login") + "?" + urlencode({"next": path})
            # A dead session cookie is cleared so the browser stops sending it.
            return redirect(target, _set_cookie(rules.SESSION_COOKIE, "", slug, 0))
    extra: list[tuple[str, str]] = []
    if isinstance(error, RateLimited):
        extra.append(("Retry-After", str(error.extra.get("retry_after", 1))))
    return render(
        "error.html",
        error.status,
        *extra,
        title=error.title,
        detail=error.detail,
        code=error.status,
    )


def staff_home(*, slug: str) -> Page:
    """The staff area's entry: on to the moderation page (a slug no channel can have is
    refused before it reaches the `Location` header)."""
    if not rules.SLUG.match(slug or ""):
        raise NotFound("No such channel.")
    return redirect(rules.admin_path(slug, "moderation"))


# -- channel and session ---------------------------------------------------------------------
def _channel(tx: Tx, slug: str) -> dict[str, Any]:
    if not rules.SLUG.match(slug or ""):
        raise NotFound("No such channel.")
    row = tx.one("SELECT id, slug, name FROM channels WHERE slug = :s", s=slug)
    if row is None:
        raise NotFound("No such channel.")
    tx.set_channel(str(row["id"]))
    return row


def staff_session(*, slug: str, cookie_header: str | None, page: str) -> StaffSession:
    """The signed-in staff member of the cookie, allowed to see `page` of this channel.

    No or dead cookie: 401 (the login form). Not a member of this channel: 404. A member whose
    role does not reach the page: 403."""
    token = rules.cookie_value(cookie_header, rules.SESSION_COOKIE)
    if not token:
        raise Unauthorized("Sign in first.")
    claims = identity.verify_access_token(token)  # expiry, signature, logout-all
    user_id = str(claims["sub"])
    with transaction(user_id=user_id) as tx:
        channel = _channel(tx, slug)
        role = channels.require(tx, user_id, rules.PAGE_ACTIONS[page])
    csrf = rules.csrf_token(_keys()[0], *rules.session_binding(slug, str(claims.get("jti", ""))))
    return StaffSession(
        user_id=user_id,
        channel_id=str(channel["id"]),
        slug=channel["slug"],
        channel_name=channel["name"],
        role=role,
        csrf=csrf,
        jti=str(claims.get("jti", "")),
        expires_at=int(claims["exp"]),
    )


def check_csrf(session: StaffSession, form: Mapping[str, str]) -> None:
    """403 unless the form carries this session's token (a forged cross-site post does not)."""
    binding = rules.session_binding(session.slug, session.jti)
    if not rules.csrf_valid(_keys(), form.get(rules.CSRF_FIELD), *binding):
        raise Forbidden("The form expired or did not come from this site: reload the page.")


def nav(session: StaffSession, current: str) -> dict[str, Any]:
    """What every signed-in page's header shows (pages the role may open, the logout form)."""
    return {
        "slug": session.slug,
        "channel_name": session.channel_name,
        "role": session.role,
        "csrf": session.csrf,
        "current": current,
        "pages": [
            p for p, action in rules.PAGE_ACTIONS.items() if channels.allows(session.role, action)
        ],
    }


# -- login -----------------------------------------------------------------------------------
def login_form(
    *,
    slug: str,
    cookie_header: str | None,
    next_path: str | None,
    error: str = "",
    status: int = 200,
    challenge: str = "",
    extra: tuple[tuple[str, str], ...] = (),
) -> Page:
    """The sign-in form; sets the pre-login cookie its CSRF token is bound to."""
    with transaction() as tx:
        channel = _channel(tx, slug)
    nonce = rules.cookie_value(cookie_header, rules.LOGIN_COOKIE) or secrets.token_urlsafe(24)
    csrf = rules.csrf_token(_keys()[0], *rules.login_binding(slug, nonce))
    return render(
        "login.html",
        status,
        _set_cookie(rules.LOGIN_COOKIE, nonce, slug, rules.LOGIN_COOKIE_SECONDS),
        *extra,
        title=f"Staff sign-in · {channel['name']}",
        channel_name=channel["name"],
        slug=slug,
        csrf=csrf,
        next=rules.safe_next(slug, next_path),
        error=error,
        challenge=challenge,
    )


def sign_in(
    *, slug: str, form: Mapping[str, str], cookie_header: str | None, client_ip: str
) -> Page:
    """Check the login form (CSRF, then identity's own login, second factor included), then
    that the account is staff here; answer the session cookie and a redirect."""
    nonce = rules.cookie_value(cookie_header, rules.LOGIN_COOKIE) or ""
    if not rules.csrf_valid(_keys(), form.get(rules.CSRF_FIELD), *rules.login_binding(slug, nonce)):
        raise Forbidden("The form expired or did not come from this site: reload the page.")
    next_path = rules.safe_next(slug, form.get("next"))
    if rules.unstorable(form):
        raise Unprocessable("The form holds characters that cannot be stored.")

    def again(error: str, status: int, challenge: str = "", *extra: tuple[str, str]) -> Page:
        return login_form(
            slug=slug,
            cookie_header=cookie_header,
            next_path=next_path,
            error=error,
            status=status,
            challenge=challenge,
            extra=extra,
        )

    challenge = (form.get("challenge_token") or "").strip()
    try:
        if challenge:
            code = (form.get("code") or "").strip()
            recovery = (form.get("recovery_code") or "").strip()
            session = identity.complete_login(
                challenge_token=challenge,
                code=code or None,
                recovery_code=(recovery or None) if not code else None,
                client_ip=client_ip,
            )
        else:
            session = identity.login(
                email=(form.get("email") or "")[:320],
                password=(form.get("password") or "")[:1024],
                client_ip=client_ip,
            )
    except RateLimited as e:
        retry = str(e.extra.get("retry_after", 1))
        return again(
            "Too many attempts: wait a moment and try again.", 429, "", ("Retry-After", retry)
        )
    except Unauthorized as e:
        if e.extra.get("challenge_token"):
            return again("", 200, str(e.extra["challenge_token"]))
        return again(e.detail or "Sign-in failed.", 401)
    token = session["access_token"]
    user_id = str(identity.verify_access_token(token)["sub"])
    with transaction(user_id=user_id) as tx:
        _channel(tx, slug)
        role = channels.role_of(tx, user_id)
    if role is None:
        raise NotFound("No such channel.")
    if not any(channels.allows(role, a) for a in rules.PAGE_ACTIONS.values()):
        raise Forbidden(f"Your role ({role}) has no staff pages here.")
    return redirect(
        next_path,
        _set_cookie(rules.SESSION_COOKIE, token, slug, int(session["expires_in"])),
        _set_cookie(rules.LOGIN_COOKIE, "", slug, 0),
    )


def sign_out(*, slug: str, form: Mapping[str, str], cookie_header: str | None) -> Page:
    """Clear the cookie. A live session must show its CSRF token (else 403); a dead one is
    simply cleared."""
    if not rules.SLUG.match(slug or ""):
        raise NotFound("No such channel.")
    token = rules.cookie_value(cookie_header, rules.SESSION_COOKIE)
    if token:
        try:
            claims = identity.verify_access_token(token)
        except Unauthorized:
            claims = None
        if claims is not None and not rules.csrf_valid(
            _keys(),
            form.get(rules.CSRF_FIELD),
            *rules.session_binding(slug, str(claims.get("jti", ""))),
        ):
            raise Forbidden("The form expired or did not come from this site: reload the page.")
    return redirect(rules.admin_path(slug, "login"), _set_cookie(rules.SESSION_COOKIE, "", slug, 0))
