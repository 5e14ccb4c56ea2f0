import base64
import json

import pytest

from shared.identity import tokens
from shared.platform.config import settings
from shared.platform.errors import Unauthorized


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
