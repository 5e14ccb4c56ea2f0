"""The public pages' pure rules: safe theme tokens, prices, durations, summaries, ETags."""

import pytest

from shared.billing.rules import ZERO_DECIMAL
from shared.pages.rules import (
    DEFAULT_THEME,
    SLUG,
    etag_matches,
    minutes,
    money,
    summary,
    theme_tokens,
)


def test_valid_theme_tokens_are_kept():
    raw = {
        "primary": "#112233",
        "accent": "#abc",
        "font": "Inter Tight",
        "logo_url": "https://cdn.example.com/logo.png",
    }
    tokens = theme_tokens(raw)
    assert tokens["primary"] == "#112233" and tokens["accent"] == "#abc"
    assert tokens["font"] == "Inter Tight"
    assert tokens["logo_url"] == "https://cdn.example.com/logo.png"
    assert tokens["background"] == DEFAULT_THEME["background"]


@pytest.mark.parametrize(
    "raw",
    [
        {"primary": "red; background: url(x)"},
        {"primary": "#12345"},
        {"font": "Inter'; } body { display: none"},
        {"logo_url": "javascript:alert(1)"},
        {"logo_url": "http://plain.example.com/logo.png"},
        {"logo_url": "https://x.example.com/" + "a" * 2048},
        {"primary": 123},
    ],
)
def test_anything_that_could_break_out_of_css_or_an_attribute_falls_back(raw):
    tokens = theme_tokens(raw)
    assert tokens == {**DEFAULT_THEME, **{k: v for k, v in tokens.items() if k == "logo_url"}}
    assert "logo_url" not in tokens


@pytest.mark.parametrize("raw", [None, "theme", ["#fff"]])
def test_a_theme_that_is_not_an_object_is_the_default(raw):
    assert theme_tokens(raw) == DEFAULT_THEME


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (None, "usd", "Free"),
        (1000, None, "Free"),
        (4900, "usd", "$49.00"),
        (123456, "EUR", "€1,234.56"),
        (5000, "jpy", "¥5,000"),  # zero-decimal: minor units are whole yen
        (5000, "krw", "5,000 KRW"),
        (999, "chf", "9.99 CHF"),
    ],
)
def test_prices_read_in_their_currency(amount, currency, shown):
    assert money(amount, currency, zero_decimal=ZERO_DECIMAL) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"), [(None, ""), (0, ""), (59, "0:59"), (61.9, "1:01"), ("3600", "60:00")]
)
def test_durations_read_as_minutes_and_seconds(seconds, shown):
    assert minutes(seconds) == shown


def test_a_summary_collapses_whitespace_and_ends_with_an_ellipsis_when_cut():
    assert summary("  a\n\tb  c ") == "a b c"
    assert summary(None) == ""  # type: ignore[arg-type]
    cut = summary("word " * 100, limit=20)
    assert len(cut) == 20 and cut.endswith("…")


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        ("", False),
        ('"abc"', True),
        ('W/"abc"', True),  # weak comparison
        ('"x", "abc"', True),
        ("*", True),
        ('"abcd"', False),
    ],
)
def test_if_none_match_uses_weak_comparison_over_a_list(header, matches):
    assert etag_matches(header, '"abc"') is matches


@pytest.mark.parametrize(
    ("slug", "ok"),
    [("my-channel", True), ("abc", True), ("ab", False), ("-ab", False), ("AB", False)],
)
def test_channel_slugs(slug, ok):
    assert bool(SLUG.match(slug)) is ok
