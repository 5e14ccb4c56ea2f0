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


@pytest.mark.parametrize(
    ("found", "used", "expired", "attempts", "outcome"),
    [
        (True, False, False, 0, rules.ChallengeOutcome.OPEN),
        (True, False, False, rules.CHALLENGE_MAX_ATTEMPTS - 1, rules.ChallengeOutcome.OPEN),
        (True, False, False, rules.CHALLENGE_MAX_ATTEMPTS, rules.ChallengeOutcome.INVALID),
        (True, True, False, 1, rules.ChallengeOutcome.INVALID),  # a login is answered once
        (True, False, True, 0, rules.ChallengeOutcome.INVALID),
        (False, False, False, 0, rules.ChallengeOutcome.INVALID),
    ],
)
def test_login_challenge_rule(found, used, expired, attempts, outcome):
    got = rules.challenge_outcome(found=found, used=used, expired=expired, attempts=attempts)
    assert got is outcome


def test_totp_accepts_the_current_step_and_one_either_side():
    now = 30 * 1000 + 12.5
    assert rules.totp_steps(now) == [1000, 999, 1001]


def test_a_totp_code_is_accepted_once_and_never_an_older_one():
    assert rules.accepted_step([1000], last_step=0) == 1000
    assert rules.accepted_step([1000], last_step=1000) is None  # replayed
    assert rules.accepted_step([999], last_step=1000) is None  # older than the last one used
    assert rules.accepted_step([1001, 1000], last_step=1000) == 1001
    assert rules.accepted_step([], last_step=0) is None


def test_recovery_codes_are_typed_loosely():
    assert rules.normalize_recovery_code(" AB12c-3d4E5 ") == "ab12c3d4e5"


@pytest.mark.parametrize(
    "notice", ["second_factor_enabled", "second_factor_removed", "recovery_code_used"]
)
def test_every_security_notice_has_a_subject_and_says_what_to_do(notice):
    subject, text = rules.notice_text(notice)
    assert subject and "reset your password" in text


def test_only_an_otp_in_amr_counts_as_a_second_factor():
    assert rules.used_second_factor({"amr": ["pwd", "otp"]})
    assert not rules.used_second_factor({"amr": ["pwd"]})
    assert not rules.used_second_factor({"amr": "otp"})  # not a list: not RFC 8176
    assert not rules.used_second_factor({})
