import uuid

import pytest

from shared.identity import rules
from shared.identity.rules import RefreshOutcome, refresh_outcome
from shared.platform.ids import uuid7


@pytest.mark.parametrize(
    ("pw", "bad"),
    [
        ("short", True),
        ("password123", True),  # common
        ("aaaaaaaaaaaa", True),  # too few distinct characters
        ("x" * 1025, True),  # over the byte cap, refused before hashing
        ("é" * 600, True),  # 600 chars but 1200 bytes
        ("correct horse battery", False),
        ("Z" + "y" * 62 + "1", False),  # 64 characters accepted
    ],
)
def test_password_rules(pw, bad):
    assert bool(rules.problems(pw)) is bad


@pytest.mark.parametrize(
    ("found", "used", "revoked", "expired", "outcome"),
    [
        (True, False, False, False, RefreshOutcome.ROTATE),
        (True, True, False, False, RefreshOutcome.REUSED),  # spent, seen again: it leaked
        (True, True, False, True, RefreshOutcome.REUSED),  # even once expired
        (True, True, True, False, RefreshOutcome.INVALID),  # family already revoked
        (True, False, True, False, RefreshOutcome.INVALID),
        (True, False, False, True, RefreshOutcome.INVALID),
        (False, False, False, False, RefreshOutcome.INVALID),
    ],
)
def test_refresh_rotation_rule(found, used, revoked, expired, outcome):
    got = refresh_outcome(found=found, used=used, revoked=revoked, expired=expired)
    assert got is outcome


def test_issued_instant_comes_from_the_uuid7_jti_to_the_millisecond():
    jti = uuid7()
    ms = uuid.UUID(jti).int >> 80
    assert rules.issued_ms({"jti": jti, "iat": 1}) == ms
    assert rules.issued_ms({"jti": "not-a-uuid", "iat": 1_700_000_000}) == 1_700_000_000_000
    assert rules.issued_ms({"jti": str(uuid.uuid4()), "iat": 5}) == 5000  # not time-ordered


def test_tokens_issued_before_the_valid_after_instant_are_revoked():
    assert not rules.revoked(1_000, None)
    assert rules.revoked(999, 1_000)
    assert not rules.revoked(1_000, 1_000)
    assert not rules.revoked(1_001, 1_000)


def test_the_cached_instant_is_trusted_only_for_the_cache_window():
    window = rules.VALID_AFTER_CACHE_SECONDS
    assert rules.cache_is_fresh(100.0, 100.0)
    assert rules.cache_is_fresh(100.0, 100.0 + window - 0.01)
    assert not rules.cache_is_fresh(100.0, 100.0 + window)
    assert not rules.cache_is_fresh(100.0, 99.0)  # a clock that went back proves nothing


def test_a_reset_request_older_than_its_link_would_live_is_dropped():
    assert not rules.reset_request_is_stale(1000.0, 1000.0 + 3600, 3600)
    assert rules.reset_request_is_stale(1000.0, 1000.0 + 3601, 3600)


def test_reset_mail_names_the_link_and_its_lifetime():
    text = rules.reset_mail_text(link="https://x.test/reset-password?token=pr_a", minutes=60)
    assert "https://x.test/reset-password?token=pr_a" in text and "valid 60 minutes" in text
