"""Cloud CDN signed URLs (shared/adapters/cdn.py, issue 16 item 11).

The expected signatures are computed here from Google's documented algorithm ("Use signed
URLs"): base64url(HMAC-SHA1(16-byte key, "<url>?Expires=<unix>&KeyName=<name>")), and checked
against the vectors Google publishes for it (GoogleCloudPlatform/python-docs-samples
cdn/snippets_test.py, the same values `gcloud compute sign-url` produces).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from pydantic import ValidationError

from shared.adapters import cdn
from shared.platform.config import settings

GOOGLE_KEY = "nZtRohdNF9m3cKM24IcK4w=="  # base64url of a 16-byte key, as `gcloud` takes it
GOOGLE_EXPIRES = 1549751401


def expected_signature(signed_part: str, encoded_key: str) -> str:
    """Google's algorithm, written independently of the module under test."""
    key = base64.urlsafe_b64decode(encoded_key)
    digest = hmac.new(key, signed_part.encode(), hashlib.sha1).digest()
    return base64.urlsafe_b64encode(digest).decode()


def split_signature(url: str) -> tuple[str, str]:
    """(the signed part: the URL up to and including KeyName, the Signature value)."""
    signed_part, _, signature = url.rpartition("&Signature=")
    return signed_part, signature


@pytest.mark.parametrize(
    ("url", "published"),
    [
        ("http://35.186.234.33/index.html", "CRFqQnVfFyiUyR63OQf-HRUpIwc="),
        ("http://www.example.com/", "OqDUFfHpN5Vxga6r80bhsgxKves="),
        (
            "http://www.example.com/some/path?some=query&another=param",
            "9Q9TCxSju8-W5nUkk5CuTrun2_o=",
        ),
    ],
)
def test_signature_matches_googles_algorithm_and_published_vectors(url, published):
    signed = cdn.sign_url(
        url, key_name="my-key", key=cdn.decode_key(GOOGLE_KEY), expires=GOOGLE_EXPIRES
    )
    separator = "&" if "?" in url else "?"
    signed_part = f"{url}{separator}Expires={GOOGLE_EXPIRES}&KeyName=my-key"
    assert signed == f"{signed_part}&Signature={expected_signature(signed_part, GOOGLE_KEY)}"
    assert split_signature(signed)[1] == published


def test_signed_url_carries_the_expiry_and_key_name_it_was_signed_with():
    key = cdn.decode_key("AAECAwQFBgcICQoLDA0ODw")  # bytes 0..15, unpadded
    assert key == bytes(range(16))
    signed = cdn.sign_url("https://media.example.com/a/b.mp4", key_name="k2", key=key, expires=42)
    query = parse_qs(urlsplit(signed).query)
    assert query["Expires"] == ["42"] and query["KeyName"] == ["k2"]
    assert list(query) == ["Expires", "KeyName", "Signature"]  # Signature last, as CDN wants
    later = cdn.sign_url("https://media.example.com/a/b.mp4", key_name="k2", key=key, expires=43)
    assert split_signature(later)[1] != split_signature(signed)[1]


def test_a_tampered_url_does_not_carry_a_valid_signature():
    key_text = base64.urlsafe_b64encode(b"sixteen byte key").decode()
    key = cdn.decode_key(key_text)
    signed = cdn.sign_url(
        "https://media.example.com/channels/c1/lessons/l1.mp4",
        key_name="k1",
        key=key,
        expires=2_000_000_000,
    )
    signed_part, signature = split_signature(signed)
    assert signature == expected_signature(signed_part, key_text)
    for tampered in (
        signed_part.replace("/c1/", "/c2/"),  # another channel's object
        signed_part.replace("Expires=2000000000", "Expires=2000000001"),  # a later expiry
        signed_part.replace("KeyName=k1", "KeyName=k2"),  # another key
    ):
        assert expected_signature(tampered, key_text) != signature
    other_key = cdn.sign_url(
        "https://media.example.com/channels/c1/lessons/l1.mp4",
        key_name="k1",
        key=bytes(16),
        expires=2_000_000_000,
    )
    assert split_signature(other_key)[1] != signature


def test_urls_already_carrying_signing_parameters_are_refused():
    for url in ("https://m.example.com/x?Expires=1", "https://m.example.com/x?a=1&Signature=s"):
        with pytest.raises(ValueError, match="Expires, KeyName or Signature"):
            cdn.sign_url(url, key_name="k1", key=bytes(16), expires=1)


@pytest.mark.parametrize("encoded", ["", "c2hvcnQ", base64.urlsafe_b64encode(bytes(17)).decode()])
def test_keys_that_are_not_16_bytes_are_refused(encoded):
    with pytest.raises(ValueError):
        cdn.decode_key(encoded)


def test_object_url_quotes_the_name_and_signs_the_download_name():
    url = cdn.object_url(
        "https://media.example.com/", "channels/c 1/résumé#1.pdf", filename='Notes "v2".pdf'
    )
    parts = urlsplit(url)
    assert parts.path == "/channels/c%201/r%C3%A9sum%C3%A9%231.pdf"
    assert unquote(parts.path) == "/channels/c 1/résumé#1.pdf"
    assert parse_qs(parts.query) == {
        "response-content-disposition": ['attachment; filename="Notes v2.pdf"']
    }


# -- the choice: CDN when a key is configured ----------------------------------------------------
@pytest.fixture
def cdn_settings(monkeypatch):
    """Settings as a cloud function that mounts MEDIA_CDN_SIGNING_KEYS sees them, mid-rotation:
    two keys, MEDIA_CDN_KEY_NAME picks the one that signs."""
    keys = {"k0": base64.urlsafe_b64encode(bytes(16)).decode(), "k1": GOOGLE_KEY}
    monkeypatch.setenv("MEDIA_CDN_BASE_URL", "https://media.example.com")
    monkeypatch.setenv("MEDIA_CDN_KEY_NAME", "k1")
    monkeypatch.setenv("MEDIA_CDN_SIGNING_KEYS", json.dumps(keys))
    settings.cache_clear()
    yield settings
    settings.cache_clear()


def test_media_url_is_cdn_signed_for_the_ttl_when_a_key_is_configured(cdn_settings):
    before = int(datetime.now(UTC).timestamp())
    url, expires_at = cdn.signed_media_get_url("channels/c/lessons/l.mp4", expires_seconds=900)
    after = int(datetime.now(UTC).timestamp())
    assert url.startswith("https://media.example.com/channels/c/lessons/l.mp4?Expires=")
    expires = int(parse_qs(urlsplit(url).query)["Expires"][0])
    assert before + 900 <= expires <= after + 900
    assert int(expires_at.timestamp()) == expires and expires_at.tzinfo is not None
    signed_part, signature = split_signature(url)
    assert signed_part.endswith("&KeyName=k1")
    assert signature == expected_signature(signed_part, GOOGLE_KEY)


def test_media_url_expiry_is_capped_at_fifteen_minutes(cdn_settings):
    url, _ = cdn.signed_media_get_url("o.mp4", expires_seconds=24 * 3600)
    expires = int(parse_qs(urlsplit(url).query)["Expires"][0])
    assert expires <= int(datetime.now(UTC).timestamp()) + 15 * 60


def test_media_url_without_a_key_is_the_gcs_url(monkeypatch):
    monkeypatch.delenv("MEDIA_CDN_SIGNING_KEYS", raising=False)
    monkeypatch.setenv("MEDIA_CDN_BASE_URL", "https://media.example.com")
    monkeypatch.setenv("MEDIA_CDN_KEY_NAME", "k1")
    settings.cache_clear()
    calls = []

    def gcs_signed_get_url(bucket_key, object_name, *, expires_seconds, filename=None):
        calls.append((bucket_key, object_name, expires_seconds, filename))
        return "https://storage.example/signed", datetime(2030, 1, 1, tzinfo=UTC)

    from shared.adapters import gcs

    monkeypatch.setattr(gcs, "signed_get_url", gcs_signed_get_url)
    try:
        got = cdn.signed_media_get_url("o.pdf", expires_seconds=900, filename="n.pdf")
    finally:
        settings.cache_clear()
    assert got[0] == "https://storage.example/signed"
    assert calls == [("media", "o.pdf", 900, "n.pdf")]


CDN_ENV = {"MEDIA_CDN_BASE_URL": "https://m.example.com", "MEDIA_CDN_KEY_NAME": "k1"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MEDIA_CDN_SIGNING_KEYS": json.dumps({"k1": GOOGLE_KEY})}, "needs MEDIA_CDN_BASE_URL"),
        ({**CDN_ENV, "MEDIA_CDN_SIGNING_KEYS": json.dumps(GOOGLE_KEY)}, "a JSON object"),
        ({**CDN_ENV, "MEDIA_CDN_SIGNING_KEYS": json.dumps({"k2": GOOGLE_KEY})}, "must name one"),
        ({**CDN_ENV, "MEDIA_CDN_SIGNING_KEYS": json.dumps({"k1": "c2hvcnQ"})}, "16 bytes"),
    ],
)
def test_keys_that_cannot_sign_stop_the_start(monkeypatch, env, message):
    for name in ("MEDIA_CDN_SIGNING_KEYS", "MEDIA_CDN_BASE_URL", "MEDIA_CDN_KEY_NAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings.cache_clear()
    try:
        with pytest.raises(ValidationError, match=message):
            settings()
    finally:
        settings.cache_clear()
