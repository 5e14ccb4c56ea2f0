"""The staff pages' session and CSRF rules (shared/admin_pages/rules.py): cookie attributes,
tokens bound to one session and channel, redirects kept inside the channel's admin area, and
the moderation form."""

from __future__ import annotations

import pytest

from shared.admin_pages import rules

KEY = rules.derive_key(b"server-secret-one")
OLD = rules.derive_key(b"server-secret-zero")


def test_session_cookie_is_httponly_strict_scoped_and_secure_outside_local():
    c = rules.cookie(rules.SESSION_COOKIE, "tok", slug="demo", max_age=900, secure=True)
    parts = c.split("; ")
    assert parts[0] == "cp_staff=tok"
    assert {"HttpOnly", "SameSite=Strict", "Secure", "Max-Age=900", "Path=/ch/demo/admin"} <= set(
        parts
    )
    local = rules.cookie(rules.SESSION_COOKIE, "tok", slug="demo", max_age=900, secure=False)
    assert "Secure" not in local.split("; ")


def test_clearing_a_cookie_sets_max_age_zero_never_negative():
    c = rules.cookie(rules.SESSION_COOKIE, "", slug="demo", max_age=-5, secure=False)
    assert c.startswith("cp_staff=; Max-Age=0;")


@pytest.mark.parametrize(
    ("header", "want"),
    [
        ("cp_staff=abc", "abc"),
        ("a=1; cp_staff=abc; b=2", "abc"),
        ("cp_staff_login=n1; cp_staff=abc", "abc"),
        ("cp_staffX=abc", None),
        ("cp_staff=", None),
        ("", None),
        (None, None),
    ],
)
def test_cookie_value(header, want):
    assert rules.cookie_value(header, rules.SESSION_COOKIE) == want


def test_csrf_token_is_bound_to_session_and_channel():
    token = rules.csrf_token(KEY, *rules.session_binding("demo", "jti-1"))
    assert rules.csrf_valid([KEY], token, *rules.session_binding("demo", "jti-1"))
    assert not rules.csrf_valid([KEY], token, *rules.session_binding("demo", "jti-2"))
    assert not rules.csrf_valid([KEY], token, *rules.session_binding("other", "jti-1"))
    # a login form's token is no session token, and the reverse
    assert not rules.csrf_valid([KEY], token, *rules.login_binding("demo", "jti-1"))


@pytest.mark.parametrize("presented", [None, "", "x", "A" * 44])
def test_missing_or_wrong_csrf_token_is_refused(presented):
    assert not rules.csrf_valid([KEY], presented, *rules.session_binding("demo", "jti-1"))


def test_a_session_without_binding_never_validates():
    """An empty nonce (no pre-login cookie) cannot be matched, even by its own token."""
    token = rules.csrf_token(KEY, *rules.login_binding("demo", ""))
    assert not rules.csrf_valid([KEY], token, *rules.login_binding("demo", ""))


def test_csrf_tokens_verify_under_every_configured_key():
    token = rules.csrf_token(OLD, *rules.session_binding("demo", "j"))
    assert rules.csrf_valid([KEY, OLD], token, *rules.session_binding("demo", "j"))
    assert not rules.csrf_valid([KEY], token, *rules.session_binding("demo", "j"))


def test_derived_key_differs_from_the_secret_and_per_secret():
    assert rules.derive_key(b"s") != b"s"
    assert rules.derive_key(b"s") != rules.derive_key(b"t")


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("/ch/demo/admin/analytics?from=2026-01-01", "/ch/demo/admin/analytics?from=2026-01-01"),
        ("/ch/demo/admin/moderation", "/ch/demo/admin/moderation"),
        (None, "/ch/demo/admin/moderation"),
        ("https://evil.example/ch/demo/admin/x", "/ch/demo/admin/moderation"),
        ("//evil.example/ch/demo/admin/x", "/ch/demo/admin/moderation"),
        ("/ch/other/admin/analytics", "/ch/demo/admin/moderation"),
        ("/ch/demo/adminx/analytics", "/ch/demo/admin/moderation"),
        ("/ch/demo/admin/login", "/ch/demo/admin/moderation"),
        ("/ch/demo/admin/logout/", "/ch/demo/admin/moderation"),
        ("/ch/demo/admin/\\evil", "/ch/demo/admin/moderation"),
        ("/ch/demo/admin/a\r\nSet-Cookie: x=1", "/ch/demo/admin/moderation"),
    ],
)
def test_safe_next_stays_in_the_channels_admin_area(value, want):
    assert rules.safe_next("demo", value) == want


def test_moderation_form_reads_a_ban():
    got = rules.moderation_form(
        {
            "target_type": "post",
            "target_id": "p1",
            "action": "ban_user",
            "ban_days": "7",
            "reason": "  spam   again ",
        }
    )
    assert got == rules.ModerationForm("post", "p1", "ban_user", "spam again", 7)


def test_moderation_form_defaults_the_reason_to_the_action():
    got = rules.moderation_form({"target_type": "comment", "target_id": "c", "action": "remove"})
    assert isinstance(got, rules.ModerationForm) and got.reason == "remove" and got.ban_days is None


@pytest.mark.parametrize(
    "form",
    [
        {"target_type": "user", "target_id": "p", "action": "remove"},
        {"target_type": "post", "target_id": "", "action": "remove"},
        {"target_type": "post", "target_id": "p", "action": "delete"},
        {"target_type": "post", "target_id": "p", "action": "ban_user"},
        {"target_type": "post", "target_id": "p", "action": "ban_user", "ban_days": "0"},
        {"target_type": "post", "target_id": "p", "action": "ban_user", "ban_days": "-3"},
        {"target_type": "post", "target_id": "p", "action": "ban_user", "ban_days": "99999"},
        {"target_type": "post", "target_id": "p", "action": "remove", "reason": "x" * 501},
    ],
)
def test_bad_moderation_forms_say_what_is_wrong(form):
    assert isinstance(rules.moderation_form(form), str)


def test_every_page_needs_a_permission():
    assert set(rules.PAGE_ACTIONS) == {"moderation", "analytics"}


def test_nul_in_a_form_is_refused_before_any_query():
    assert rules.unstorable({"email": "a\x00@example.com"})
    assert rules.unstorable({"x\x00": "v"})
    assert not rules.unstorable({"email": "a@example.com", "password": "ünïcode"})
    got = rules.moderation_form(
        {"target_type": "post", "target_id": "p", "action": "remove", "reason": "spam\x00"}
    )
    assert isinstance(got, str)
