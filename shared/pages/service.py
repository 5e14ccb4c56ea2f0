"""Public, server-rendered pages: a channel's landing page and its course pages.

Rendered with jinja2 (autoescaping on: course titles and descriptions are creator input),
styled by the channel's theme tokens as CSS variables, cacheable: a strong ETag over the
rendered bytes, `Cache-Control` for browsers and the CDN, 304 on a matching If-None-Match.
The inline stylesheet is pinned by its hash in the Content-Security-Policy, so injected markup
could neither run script nor add styles even if escaping were ever bypassed.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.platform.config import settings
from shared.platform.db import transaction
from shared.platform.errors import NotFound
from shared.platform.ids import is_uuid

TEMPLATES = Path(__file__).with_name("templates")
CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=300"
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")
HEX = re.compile(r"^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
FONT = re.compile(r"^[A-Za-z0-9 \-]{1,64}$")
DEFAULT_THEME = {
    "primary": "#4f46e5",
    "secondary": "#0f172a",
    "accent": "#f59e0b",
    "background": "#ffffff",
    "text": "#111827",
    "font": "system-ui",
}
ZERO_DECIMAL = {
    "bif",
    "clp",
    "djf",
    "gnf",
    "jpy",
    "kmf",
    "krw",
    "mga",
    "pyg",
    "rwf",
    "ugx",
    "vnd",
    "vuv",
    "xaf",
    "xof",
    "xpf",
}
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "inr": "₹", "jpy": "¥"}

_env = None
_env_lock = threading.Lock()


def env() -> Any:
    """The jinja2 environment, built on first use (cold starts of other code skip it)."""
    global _env
    if _env is None:
        with _env_lock:
            if _env is None:
                import jinja2

                _env = jinja2.Environment(
                    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                    autoescape=True,
                    undefined=jinja2.StrictUndefined,
                    trim_blocks=True,
                    lstrip_blocks=True,
                )
                _env.filters["money"] = money
                _env.filters["minutes"] = minutes
    return _env


@dataclass
class Page:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def theme_tokens(raw: Any) -> dict[str, str]:
    """Theme tokens safe to put in CSS and attributes; anything malformed falls back."""
    raw = raw if isinstance(raw, dict) else {}
    out = dict(DEFAULT_THEME)
    for key in ("primary", "secondary", "accent", "background", "text"):
        v = raw.get(key)
        if isinstance(v, str) and HEX.match(v):
            out[key] = v
    font = raw.get("font")
    if isinstance(font, str) and FONT.match(font):
        out["font"] = font
    logo = raw.get("logo_url")
    if isinstance(logo, str) and logo.startswith("https://") and len(logo) <= 2048:
        out["logo_url"] = logo
    return out


def money(amount: int | None, currency: str | None) -> str:
    if amount is None or not currency:
        return "Free"
    cur = currency.lower()
    value = f"{amount:,}" if cur in ZERO_DECIMAL else f"{amount / 100:,.2f}"
    symbol = SYMBOLS.get(cur)
    return f"{symbol}{value}" if symbol else f"{value} {cur.upper()}"


def minutes(seconds: Any) -> str:
    if not seconds:
        return ""
    total = int(float(seconds))
    return f"{total // 60}:{total % 60:02d}"


def _summary(text: str, limit: int = 200) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _load_channel(tx: Any, slug: str) -> dict[str, Any]:
    if not SLUG.match(slug or ""):
        raise NotFound("No such channel.")
    channel = tx.one("SELECT id, slug, name, theme FROM channels WHERE slug = :s", s=slug)
    if channel is None:
        raise NotFound("No such channel.")
    tx.set_channel(str(channel["id"]))  # public read of this one tenant's published content
    return channel


def channel_page(*, slug: str, if_none_match: str | None = None) -> Page:
    """The landing page of a channel: its brand and its published courses."""
    with transaction() as tx:
        channel = _load_channel(tx, slug)
        courses = tx.all(
            "SELECT c.id, c.title, c.description, c.price_amount, c.price_currency,"
            " (SELECT count(*) FROM lessons l WHERE l.course_id = c.id) AS lesson_count"
            " FROM courses c WHERE c.channel_id = app_channel_id() AND c.status = 'published'"
            " ORDER BY c.published_at DESC NULLS LAST, c.id DESC LIMIT 100",
        )
    description = f"{channel['name']} on Creator Platform"
    if courses:
        description = f"Courses by {channel['name']}: " + ", ".join(c["title"] for c in courses)
    return _render(
        "channel.html",
        if_none_match,
        path=f"/ch/{channel['slug']}",
        channel=channel,
        courses=courses,
        title=channel["name"],
        description=description,
    )


def course_page(*, slug: str, course_id: str, if_none_match: str | None = None) -> Page:
    """The public page of one published course: description, price and lesson outline."""
    with transaction() as tx:
        channel = _load_channel(tx, slug)
        course = (
            tx.one(
                "SELECT id, title, description, price_amount, price_currency FROM courses"
                " WHERE id = :c AND channel_id = app_channel_id() AND status = 'published'",
                c=course_id,
            )
            if is_uuid(course_id)
            else None
        )
        if course is None:
            raise NotFound("No such course.")
        lessons = tx.all(
            "SELECT title, kind, duration_seconds FROM lessons WHERE course_id = :c"
            " AND channel_id = app_channel_id() ORDER BY position",
            c=course_id,
        )
    path = f"/ch/{channel['slug']}/courses/{course['id']}"
    return _render(
        "course.html",
        if_none_match,
        path=path,
        channel=channel,
        course=course,
        lessons=lessons,
        title=f"{course['title']} · {channel['name']}",
        description=_summary(course["description"]) or course["title"],
    )


def _render(
    template: str,
    if_none_match: str | None,
    *,
    path: str,
    channel: dict[str, Any],
    description: str,
    **context: Any,
) -> Page:
    theme = theme_tokens(channel["theme"])
    css = env().get_template("theme.css").render(theme=theme)
    css_hash = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    url = settings().public_base_url.rstrip("/") + path
    html = (
        env()
        .get_template(template)
        .render(
            css=css,
            theme=theme,
            url=url,
            channel=channel,
            description=_summary(description),
            **context,
        )
    )
    body = html.encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'sha256-{css_hash}'; img-src https: data:;"
            " base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
    if _matches(if_none_match, etag):
        return Page(304, b"", headers)
    headers["Content-Type"] = "text/html; charset=utf-8"
    return Page(200, body, headers)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: weak comparison, a list of tags or `*`."""
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)
