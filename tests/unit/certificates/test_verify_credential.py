"""scripts/verify_credential.py: a credential and the public JWKS alone decide valid, revoked
or invalid (tampered, foreign key, wrong algorithm, not an OB 3.0 credential)."""

import base64
import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from scripts import verify_credential as vc
from shared.certificates import keys, rules
from shared.platform.config import settings

ISSUED = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


def cert(**over):
    row = {
        "id": "0190a0a0-0000-7000-8000-0000000000c1",
        "channel_id": "0190a0a0-0000-7000-8000-000000000001",
        "status_index": 41,
        "course_id": "0190a0a0-0000-7000-8000-0000000000c2",
        "channel_slug": "acme",
        "channel_name": "Acme Academy",
        "course_title": "Tiếng Việt cơ bản",
        "course_description": "",
        "subject_hash": rules.identity_hash("ana@example.com", "salt1"),
        "subject_salt": "salt1",
        "issued_at": ISSUED,
    }
    return {**row, **over}


@pytest.fixture(autouse=True)
def local_key(monkeypatch):
    """The deterministic development key: settings and keys are cached per process."""
    for name in ("CERTIFICATE_SIGNING_KEYS", "CERTIFICATE_ACTIVE_KID", "ENV"):
        monkeypatch.delenv(name, raising=False)
    settings.cache_clear()
    keys._keys.cache_clear()
    yield
    monkeypatch.undo()
    settings.cache_clear()
    keys._keys.cache_clear()


@pytest.fixture
def files(tmp_path):
    row = cert(status_index=9)
    doc = rules.credential(row, base_url="https://learn.example")
    token = keys.sign(rules.jwt_claims(doc, issued_at=ISSUED))

    def status_list(revoked):
        listed = rules.status_list_credential(
            {"id": row["channel_id"], "slug": row["channel_slug"]},
            revoked,
            base_url="https://learn.example",
            now=datetime.now(UTC),
        )
        return keys.sign({"iss": listed["issuer"], "jti": listed["id"], "vc": listed})

    (tmp_path / "cred.jwt").write_text(token)
    (tmp_path / "jwks.json").write_text(json.dumps(keys.jwks()))
    (tmp_path / "ok.jwt").write_text(status_list([0, 8, 10]))
    (tmp_path / "revoked.jwt").write_text(status_list([9]))
    return tmp_path, token


def run(capsys, *argv):
    code = vc.main([str(a) for a in argv])
    return code, capsys.readouterr().out


def test_a_valid_credential(files, capsys):
    d, _ = files
    code, out = run(
        capsys, d / "cred.jwt", "--jwks", d / "jwks.json", "--status-list", d / "ok.jwt"
    )
    assert code == vc.VALID
    assert out.startswith("VALID:") and "Tiếng Việt cơ bản" in out and "Acme Academy" in out


def test_a_revoked_credential(files, capsys):
    d, token = files
    code, out = run(capsys, token, "--jwks", d / "jwks.json", "--status-list", d / "revoked.jwt")
    assert code == vc.REVOKED and out.startswith("REVOKED:")


def test_a_tampered_credential_is_invalid(files, capsys):
    d, token = files
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["vc"]["credentialSubject"]["achievement"]["name"] = "Brain surgery"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    code, out = run(capsys, f"{head}.{forged}.{sig}", "--jwks", d / "jwks.json", "--no-status")
    assert code == vc.INVALID and "signature" in out


def test_a_key_not_in_the_jwks_is_invalid(files, capsys):
    d, _ = files
    other = ec.generate_private_key(ec.SECP256R1())
    import jwt

    token = jwt.encode({"vc": {}}, other, algorithm="ES256", headers={"kid": "stranger"})
    code, out = run(capsys, token, "--jwks", d / "jwks.json", "--no-status")
    assert code == vc.INVALID and "stranger" in out


def test_alg_none_and_hs256_are_refused(files, capsys):
    d, token = files
    _, payload, _ = token.split(".")
    for header in ({"alg": "none", "kid": keys.LOCAL_KID}, {"alg": "HS256", "kid": keys.LOCAL_KID}):
        h = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
        code, out = run(capsys, f"{h}.{payload}.", "--jwks", d / "jwks.json", "--no-status")
        assert code == vc.INVALID and "not ES256" in out


def test_a_signed_payload_that_is_not_an_ob3_credential_is_invalid(files, capsys):
    d, _ = files
    token = keys.sign({"iss": "x", "vc": {"type": ["VerifiableCredential"]}})
    code, out = run(capsys, token, "--jwks", d / "jwks.json", "--no-status")
    assert code == vc.INVALID and "AchievementCredential" in out


def test_a_status_list_of_another_issuer_list_is_refused(files, capsys):
    d, _ = files
    foreign = keys.sign({"vc": {"id": "https://elsewhere.example/list", "credentialSubject": {}}})
    (d / "foreign.jwt").write_text(foreign)
    code, out = run(
        capsys, d / "cred.jwt", "--jwks", d / "jwks.json", "--status-list", d / "foreign.jwt"
    )
    assert code == vc.INVALID and "not the one" in out
