"""The signed credential without a database: an OpenBadgeCredential built from a certificate
row validates against the OB 3.0 schema, verifies with the JWKS alone through an independent
JOSE library, fails when tampered with, and key rotation keeps old keys published."""

import base64
import json
import uuid
from datetime import UTC, datetime

import jsonschema
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.errors import BadSignatureError

from shared.certificates import keys, rules
from shared.platform.config import settings
from tests.unit.certificates import ob3

ISSUED = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


def cert(**over):
    row = {
        "id": str(uuid.uuid4()),
        "channel_id": "0190a0a0-0000-7000-8000-000000000001",
        "status_index": 41,
        "course_id": str(uuid.uuid4()),
        "channel_slug": "acme",
        "channel_name": "Acme Academy",
        "course_title": "Tiếng Việt cơ bản",
        "course_description": "",
        "subject_hash": rules.identity_hash("ana@example.com", "salt1"),
        "subject_salt": "salt1",
        "issued_at": ISSUED,
    }
    row.update(over)
    return row


def reload():
    """Settings and keys are cached per process: read the environment afresh."""
    settings.cache_clear()
    keys._keys.cache_clear()


@pytest.fixture(autouse=True)
def fresh_keys(monkeypatch):
    for name in ("CERTIFICATE_SIGNING_KEYS", "CERTIFICATE_ACTIVE_KID", "ENV"):
        monkeypatch.delenv(name, raising=False)
    reload()
    yield
    monkeypatch.undo()
    reload()


def signed(row=None):
    doc = rules.credential(row or cert(), base_url="https://learn.example")
    return doc, keys.sign(rules.jwt_claims(doc, issued_at=ISSUED))


def test_the_credential_is_a_valid_ob3_achievement_credential_naming_no_email():
    doc, _ = signed()
    ob3.validate(doc)
    assert doc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert doc["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert doc["issuer"] == {
        "id": "https://learn.example/ch/acme",
        "type": ["Profile"],
        "name": "Acme Academy",
        "url": "https://learn.example/ch/acme",
    }
    subject = doc["credentialSubject"]
    assert subject["achievement"]["name"] == "Tiếng Việt cơ bản"
    assert subject["achievement"]["description"] == "Tiếng Việt cơ bản"  # none given: the title
    assert subject["identifier"][0]["hashed"] is True
    assert "ana@example.com" not in json.dumps(doc)
    assert doc["validFrom"] == "2026-03-01T12:30:00Z"
    list_url = (
        "https://learn.example/v1/certificates/status-lists/0190a0a0-0000-7000-8000-000000000001"
    )
    assert doc["credentialStatus"] == {
        "id": f"{list_url}#41",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "41",
        "statusListCredential": list_url,
    }


def test_the_status_list_sets_exactly_the_revoked_bits():
    encoded = rules.encode_status_list([0, 9, 131071])
    assert encoded.startswith("u")
    bits = rules.decode_status_list(encoded)
    assert len(bits) == 16384
    assert bits[0] == 0x80 and bits[1] == 0x40 and bits[-1] == 0x01
    assert sum(bin(b).count("1") for b in bits) == 3
    assert rules.decode_status_list(rules.encode_status_list([])) == bytes(16384)
    doc = rules.status_list_credential(
        {"id": "c1", "slug": "acme"}, [5], base_url="https://l.test", now=ISSUED
    )
    assert doc["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert doc["issuer"] == "https://l.test/ch/acme"
    assert doc["credentialSubject"]["statusPurpose"] == "revocation"
    assert rules.decode_status_list(doc["credentialSubject"]["encodedList"])[0] == 0x04


def test_the_schema_check_is_real():
    doc, _ = signed()
    del doc["credentialSubject"]["achievement"]["criteria"]
    with pytest.raises(jsonschema.ValidationError):
        ob3.validate(doc)


def test_the_jws_verifies_with_the_jwks_alone_and_carries_the_credential():
    doc, token = signed()
    claims = ob3.verify(token, keys.jwks())
    assert claims["vc"] == doc
    assert claims["iss"] == doc["issuer"]["id"] and claims["jti"] == doc["id"]
    assert claims["nbf"] == int(ISSUED.timestamp())
    ob3.validate(claims["vc"])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_tampered_credential_fails_verification():
    _, token = signed()
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["vc"]["credentialSubject"]["achievement"]["name"] = "Brain surgery"
    forged = ".".join([header, _b64(json.dumps(claims).encode()), signature])
    with pytest.raises(BadSignatureError):
        ob3.verify(forged, keys.jwks())


def _pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_the_local_key_is_deterministic_and_prod_refuses_it(monkeypatch):
    first = keys.jwks()
    reload()
    assert keys.jwks() == first and first["keys"][0]["kid"] == keys.LOCAL_KID
    assert first["keys"][0]["crv"] == "P-256" and "d" not in first["keys"][0]
    monkeypatch.setenv("ENV", "prod")
    monkeypatch.setenv("JWT_KEYS", json.dumps({"k1": "y" * 40}))
    monkeypatch.setenv("JWT_ACTIVE_KID", "k1")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_from_secret_manager")
    reload()
    with pytest.raises(RuntimeError, match="CERTIFICATE_SIGNING_KEYS"):
        keys.jwks()


def test_rotation_signs_with_the_active_key_and_keeps_the_old_one_published(monkeypatch):
    old, new = _pem(), _pem()
    monkeypatch.setenv("CERTIFICATE_SIGNING_KEYS", json.dumps({"k2025": old}))
    _, by_old = signed()
    monkeypatch.setenv("CERTIFICATE_SIGNING_KEYS", json.dumps({"k2025": old, "k2026": new}))
    reload()
    _, by_new = signed()
    published = keys.jwks()
    assert [k["kid"] for k in published["keys"]] == ["k2025", "k2026"]
    assert json.loads(base64.urlsafe_b64decode(by_new.split(".")[0] + "=="))["kid"] == "k2026"
    ob3.verify(by_old, published)  # a credential signed before the rotation still verifies
    ob3.verify(by_new, published)
    monkeypatch.setenv("CERTIFICATE_ACTIVE_KID", "k2025")
    reload()
    assert keys.active_kid() == "k2025"
    monkeypatch.setenv("CERTIFICATE_ACTIVE_KID", "nope")
    reload()
    with pytest.raises(ValueError, match="nope"):
        keys.active_kid()


def test_the_did_document_publishes_the_same_keys(monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://127.0.0.1:8080")
    reload()
    doc = keys.did_document()
    assert doc["id"] == "did:web:127.0.0.1%3A8080"
    assert [m["publicKeyJwk"] for m in doc["verificationMethod"]] == keys.jwks()["keys"]
    assert doc["assertionMethod"] == [f"{doc['id']}#{keys.LOCAL_KID}"]
