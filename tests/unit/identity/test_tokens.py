import base64
import json
import uuid

import pytest

from shared.identity import session, tokens
from shared.platform.config import settings
from shared.platform.errors import Unauthorized
from shared.platform.ids import uuid7


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_issued_token_verifies_and_carries_subject():
    token, ttl = tokens.issue_access_token("user-1")
    claims = tokens.verify_access_token(token)
    assert claims["sub"] == "user-1"
    assert claims["exp"] - claims["iat"] == ttl == settings().access_token_ttl_seconds
    assert claims["iss"] == settings().jwt_issuer and claims["aud"] == settings().jwt_audience


def test_expired_token_is_refused():
    token, ttl = tokens.issue_access_token("u", now=1_000_000)
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(token, now=1_000_000 + ttl + tokens.LEEWAY_SECONDS + 1)
    assert tokens.verify_access_token(token, now=1_000_000 + ttl)["sub"] == "u"


def test_a_token_verified_before_still_expires():
    token, ttl = tokens.issue_access_token("u", now=2_000_000)
    assert tokens.verify_access_token(token, now=2_000_000)["sub"] == "u"  # checked, kept
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(token, now=2_000_000 + ttl + tokens.LEEWAY_SECONDS + 1)


def test_tampered_payload_is_refused():
    token, _ = tokens.issue_access_token("alice")
    h, p, s = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=="))
    claims["sub"] = "mallory"
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(f"{h}.{_b64(claims)}.{s}")


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "none", "typ": "at+jwt", "kid": "local-1"},
        {"alg": "HS512", "typ": "at+jwt", "kid": "local-1"},
        {"alg": "HS256", "typ": "JWT", "kid": "local-1"},  # not an access token
        {"alg": "HS256", "typ": "at+jwt", "kid": "someone-elses-key"},
    ],
)
def test_algorithm_type_and_kid_come_from_configuration(header):
    token, _ = tokens.issue_access_token("u")
    _, p, s = token.split(".")
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(f"{_b64(header)}.{p}.{s}")


@pytest.mark.parametrize("junk", ["", "abc", "a.b", "a.b.c", "rt_opaque-refresh-token", "...."])
def test_garbage_is_unauthorized_not_an_error(junk):
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(junk)


def test_rotated_key_still_verifies_until_expiry(monkeypatch):
    old, _ = tokens.issue_access_token("u")
    keys = {"local-1": settings().jwt_key_map()["local-1"], "k2": "x" * 40}
    monkeypatch.setenv("JWT_KEYS", json.dumps(keys))
    monkeypatch.setenv("JWT_ACTIVE_KID", "k2")
    settings.cache_clear()
    try:
        new, _ = tokens.issue_access_token("u")
        assert json.loads(base64.urlsafe_b64decode(new.split(".")[0] + "=="))["kid"] == "k2"
        assert tokens.verify_access_token(old)["sub"] == "u"
        assert tokens.verify_access_token(new)["sub"] == "u"
        monkeypatch.setenv("JWT_KEYS", json.dumps({"k2": keys["k2"]}))  # old key retired
        settings.cache_clear()
        with pytest.raises(Unauthorized):
            tokens.verify_access_token(old)
    finally:
        settings.cache_clear()


class Revocations:
    """The users table's "tokens valid after" column, and a clock for the process cache."""

    def __init__(self):
        self.valid_after: dict[str, int] = {}
        self.reads = 0
        self.now = 1000.0

    def load(self, user_id):
        self.reads += 1
        return self.valid_after.get(user_id)


@pytest.fixture
def revocations(monkeypatch):
    r = Revocations()
    monkeypatch.setattr(tokens, "load_valid_after", r.load)
    monkeypatch.setattr(tokens, "clock", lambda: r.now)
    monkeypatch.setattr(tokens, "_valid_after", {})
    return r


def _ms(token: str) -> int:
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    return uuid.UUID(claims["jti"]).int >> 80


def test_a_token_issued_before_the_users_valid_after_instant_is_refused(revocations):
    user = uuid7()
    old, _ = tokens.issue_access_token(user)
    assert tokens.verify_access_token(old)["sub"] == user
    revocations.valid_after[user] = _ms(old) + 1  # revoked elsewhere, after `old` was issued
    revocations.now += tokens.rules.VALID_AFTER_CACHE_SECONDS  # this process's cache expires
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(old)


def test_a_token_issued_after_the_revocation_verifies(revocations):
    user = uuid7()
    old, _ = tokens.issue_access_token(user)
    tokens.revoke_before(user, _ms(old) + 1)
    new, _ = tokens.issue_access_token(user)
    while _ms(new) <= _ms(old):  # same millisecond: issue again
        new, _ = tokens.issue_access_token(user)
    assert tokens.verify_access_token(new)["sub"] == user
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(old)


def test_the_instant_is_read_once_per_user_per_cache_window(revocations):
    user = uuid7()
    token, _ = tokens.issue_access_token(user)
    for _ in range(5):
        tokens.verify_access_token(token)
    assert revocations.reads == 1
    revocations.now += tokens.rules.VALID_AFTER_CACHE_SECONDS - 0.1
    tokens.verify_access_token(token)
    assert revocations.reads == 1
    revocations.now += 0.1
    tokens.verify_access_token(token)
    assert revocations.reads == 2


def test_the_revoking_process_refuses_at_once_without_waiting_for_its_cache(revocations):
    user = uuid7()
    token, _ = tokens.issue_access_token(user)
    assert tokens.verify_access_token(token)["sub"] == user  # cached: never revoked
    tokens.revoke_before(user, _ms(token) + 1)
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(token)
    assert revocations.reads == 1


def test_a_token_says_whether_its_session_used_a_second_factor(revocations):
    user, other = uuid7(), uuid7()
    pwd, _ = tokens.issue_access_token(user)
    otp, _ = tokens.issue_access_token(user, second_factor=True)
    assert tokens.verify_access_token(pwd)["amr"] == ["pwd"]
    assert session.session_used_second_factor(user) is False
    assert tokens.verify_access_token(otp)["amr"] == ["pwd", "otp"]
    assert session.session_used_second_factor(user) is True
    assert session.session_used_second_factor(other) is None  # not their token: unknown
