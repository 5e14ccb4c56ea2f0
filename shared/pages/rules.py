"""Pure rules of the public pages (no I/O): which theme tokens are safe to render, how
prices and durations read, course summaries, and If-None-Match against an ETag."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

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
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "inr": "₹", "jpy": "¥"}


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


def money(amount: int | None, currency: str | None, *, zero_decimal: Collection[str]) -> str:
    """A price as a buyer reads it; `zero_decimal` is billing's list of the currencies whose
    minor unit is the whole unit (Stripe's), so prices and fees agree on it."""
    if amount is None or not currency:
        return "Free"
    cur = currency.lower()
    value = f"{amount:,}" if cur in zero_decimal else f"{amount / 100:,.2f}"
    symbol = SYMBOLS.get(cur)
    return f"{symbol}{value}" if symbol else f"{value} {cur.upper()}"


def minutes(seconds: Any) -> str:
    if not seconds:
        return ""
    total = int(float(seconds))
    return f"{total // 60}:{total % 60:02d}"


def summary(text: str, limit: int = 200) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: weak comparison, a list of tags or `*`."""
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)
