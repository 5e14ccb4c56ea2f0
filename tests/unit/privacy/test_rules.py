"""Privacy rules: pseudonyms, what an export may hold, what erasure does per table, which
addresses are personal, and formula-safe CSV cells."""

from __future__ import annotations

import pytest

from shared.privacy import rules


def test_the_pseudonym_is_stable_per_user_and_distinct_between_users():
    a, b = "0192d000-0000-7000-8000-000000000001", "0192d000-0000-7000-8000-000000000002"
    assert rules.pseudonym(a) == rules.pseudonym(a)
    assert rules.pseudonym(a) != rules.pseudonym(b)
    assert a not in rules.pseudonym(a)
    assert rules.pseudonymous_email(a).endswith("@erased.invalid")


def test_secrets_are_left_out_of_exported_rows():
    row = {
        "id": 1,
        "email": "a@b.c",
        "password_hash": "x",
        "token_hash": "y",
        "secret": "z",
        "subject_salt": "s",
        "access_token_enc": "e",
        "display_name": "A",
    }
    assert rules.exportable(row) == {"id": 1, "email": "a@b.c", "display_name": "A"}


@pytest.mark.parametrize(
    ("table", "column", "action"),
    [
        ("refresh_tokens", "user_id", "delete"),
        ("user_totp", "user_id", "delete"),
        ("watch_sessions", "user_id", "delete"),
        ("posts", "author_id", "detach"),
        ("comments", "author_id", "detach"),
        ("payments", "user_id", "keep"),  # financial rows are kept (law)
        ("enrollments", "user_id", "keep"),
        ("audit_log", "actor_user_id", "keep"),
    ],
)
def test_erasure_action_per_table(table, column, action):
    assert rules.erasure_action(table, column) == action


@pytest.mark.parametrize(
    ("ip", "personal"),
    [
        ("203.0.113.9", True),
        ("2001:db8::7", True),
        ("8.8.8.8", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("10.1.2.3", False),
        ("192.168.0.4", False),
        ("169.254.169.254", False),
        ("unknown", False),
    ],
)
def test_only_real_client_addresses_are_scrubbed(ip, personal):
    assert rules.scrubbable_address(ip) is personal


def test_email_variants_cover_the_stored_forms():
    assert rules.email_variants("Ann@Example.COM") == ["Ann@Example.COM", "ann@example.com"]
    assert rules.email_variants("a@b.io") == ["a@b.io"]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("member.added", "member.added"),
        (None, ""),
        (42, "42"),
    ],
)
def test_csv_cells_never_start_a_formula(value, cell):
    assert rules.csv_cell(value) == cell


def test_next_step_follows_the_order_and_ends():
    assert rules.next_step("user_export", []) == "postgres"
    assert rules.next_step("user_export", ["postgres", "analytics"]) == "storage"
    assert rules.next_step("erasure", list(rules.ERASURE_STEPS)) is None
    assert rules.next_step("channel_export", ["channel"]) == "package"
