"""Public, server-rendered pages: a channel's landing page and its course pages.

Rendered with jinja2 (autoescaping on: course titles and descriptions are creator input),
styled by the channel's theme tokens as CSS variables, cacheable: a strong ETag over the
rendered bytes, `Cache-Control` for browsers and the CDN, 304 on a matching If-None-Match.
The inline stylesheet is pinned by its hash in the Content-Security-Policy, so injected markup
could neither run script nor add styles even if escaping were ever bypassed.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.billing import ZERO_DECIMAL
from shared.pages.rules import (
    SLUG,
    etag_matches,
    minutes,
    money,
    summary,
    theme_tokens,
)
from shared.platform import templating
from shared.platform.config import settings
from shared.platform.db import Tx, transaction
from shared.platform.errors import NotFound
from shared.platform.ids import is_uuid

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).with_name("templates")
CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=300"
FILTERS: dict[str, Callable[..., Any]] = {
    "money": functools.partial(money, zero_decimal=ZERO_DECIMAL),
    "minutes": minutes,
}


def env() -> jinja2.Environment:
    """The pages' jinja2 environment, built on first use (cold starts of other code skip it)."""
    return templating.environment(TEMPLATES, FILTERS)


@dataclass
class Page:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _load_channel(tx: Tx, slug: str) -> dict[str, Any]:
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
        description=summary(course["description"]) or course["title"],
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
            description=summary(description),
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
    if etag_matches(if_none_match, etag):
        return Page(304, b"", headers)
    headers["Content-Type"] = "text/html; charset=utf-8"
    return Page(200, body, headers)
