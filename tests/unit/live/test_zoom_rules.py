"""Pure rules of a channel's Zoom connection: refresh timing, the signed single-use state,
tokens sealed at rest, and who may have a class's host link."""

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidTag

from shared.live.zoom_rules import (
    REFRESH_MARGIN,
    STATE_TTL,
    expires_at,
    may_start,
    needs_refresh,
    parse_keys,
    read_state,
    seal,
    sign_state,
    unseal,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
KEY = b"k" * 32
OTHER = b"o" * 32
CH = "0190f0f0-0000-7000-8000-000000000001"
CH2 = "0190f0f0-0000-7000-8000-000000000002"


def test_a_token_is_refreshed_shortly_before_it_expires():
    exp = expires_at(NOW, 3599)
    assert exp == NOW + timedelta(seconds=3599)
    assert not needs_refresh(exp, NOW)
    assert not needs_refresh(exp, exp - REFRESH_MARGIN - timedelta(seconds=1))
    assert needs_refresh(exp, exp - REFRESH_MARGIN)  # inside the margin: refresh now
    assert needs_refresh(exp, exp + timedelta(hours=1))  # expired
    assert needs_refresh(expires_at(NOW, 0), NOW)


def _state(**over):
    args = {
        "state_id": "s1",
        "channel_id": CH,
        "user_id": "u1",
        "expires": NOW + STATE_TTL,
        "kid": "k1",
        "key": KEY,
    }
    return sign_state(**{**args, **over})


def test_a_signed_state_reads_back_its_claims():
    claims = read_state(_state(), {"k1": KEY}, NOW)
    assert claims == {
        "s": "s1",
        "c": CH,
        "u": "u1",
        "exp": int((NOW + STATE_TTL).timestamp()),
        "k": "k1",
    }


def test_a_state_past_its_expiry_is_refused():
    assert read_state(_state(), {"k1": KEY}, NOW + STATE_TTL + timedelta(seconds=1)) == "expired"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: s[:-2] + ("AA" if not s.endswith("AA") else "BB"),  # the MAC
        lambda s: _state(channel_id=CH2).split(".")[0] + "." + s.split(".")[1],  # another body
    ],
)
def test_a_tampered_state_is_refused(tamper):
    assert read_state(tamper(_state()), {"k1": KEY}, NOW) == "bad signature"


def test_a_state_signed_with_an_unknown_or_other_key_is_refused():
    assert read_state(_state(), {"k2": KEY}, NOW) == "bad signature"
    assert read_state(_state(), {"k1": OTHER}, NOW) == "bad signature"


@pytest.mark.parametrize("junk", [None, "", "abc", "a.b.c", "!!!.???", "x" * 2000, 42])
def test_malformed_states_are_refused_not_crashing(junk):
    assert read_state(junk, {"k1": KEY}, NOW) in ("malformed", "bad signature")


def test_sealed_tokens_open_only_with_their_key_and_channel():
    sealed = seal(KEY, CH, "access-token-1")
    assert b"access-token-1" not in sealed
    assert unseal(KEY, CH, sealed) == "access-token-1"
    assert seal(KEY, CH, "access-token-1") != sealed  # a fresh nonce each time
    with pytest.raises(InvalidTag):
        unseal(OTHER, CH, sealed)
    with pytest.raises(InvalidTag):  # copied into another channel's row: does not open
        unseal(KEY, CH2, sealed)
    with pytest.raises(InvalidTag):
        unseal(KEY, CH, sealed[:-1] + bytes([sealed[-1] ^ 1]))


def test_token_keys_are_32_byte_base64_values():
    keys = parse_keys('{"k1": "' + "a" * 43 + '"}')
    assert len(keys["k1"]) == 32
    for bad in ("[]", "{}", '{"k1": "c2hvcnQ"}'):
        with pytest.raises(ValueError):
            parse_keys(bad)


@pytest.mark.parametrize(
    ("role", "user", "created_by", "expected"),
    [
        ("owner", "u1", "u2", True),
        ("admin", "u1", "u2", True),
        ("instructor", "u1", "u1", True),  # the class's own instructor
        ("instructor", "u1", "u2", False),  # another instructor of the channel
        ("moderator", "u1", "u2", False),
        ("student", "u1", "u2", False),
        (None, "u1", "u1", False),  # not a member (any more)
    ],
)
def test_who_may_have_the_host_link(role, user, created_by, expected):
    assert may_start(role=role, user_id=user, created_by=created_by) is expected
