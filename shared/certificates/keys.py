"""The issuer's P-256 keys: sign credentials as VC-JWT (ES256), publish JWKS and did:web.

Keys come from the secret setting CERTIFICATE_SIGNING_KEYS, a JSON object `{kid: PEM of a
P-256 private key}` (Secret Manager in the cloud). The key named CERTIFICATE_ACTIVE_KID (else
the last one listed) signs; every listed key is published, so rotating means adding a new key,
making it active, and keeping the old one listed while credentials it signed are valid.
Without the setting (local and test only; prod refuses to sign) one deterministic development
key, derived from a fixed seed, stands in: anyone can derive it, so it signs nothing real.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any
from urllib.parse import urlparse

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.platform.config import settings

LOCAL_KID = "local-dev-1"
_LOCAL_SEED = b"creator-platform local certificate signing key; never for production"
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@lru_cache(maxsize=1)
def _keys() -> tuple[str, dict[str, ec.EllipticCurvePrivateKey]]:
    """(active kid, {kid: private key}), loaded once per process."""
    s = settings()
    if s.certificate_signing_keys is None:
        if s.env == "prod":
            raise RuntimeError("CERTIFICATE_SIGNING_KEYS must be set in prod (secret not mounted?)")
        scalar = int.from_bytes(hashlib.sha256(_LOCAL_SEED).digest(), "big") % _P256_ORDER
        return LOCAL_KID, {LOCAL_KID: ec.derive_private_key(scalar, ec.SECP256R1())}
    pems = json.loads(s.certificate_signing_keys.get_secret_value())
    keys: dict[str, ec.EllipticCurvePrivateKey] = {}
    for kid, pem in pems.items():
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError(f"certificate key {kid} is not a P-256 private key")
        keys[kid] = key
    if not keys:
        raise ValueError("CERTIFICATE_SIGNING_KEYS names no key")
    active = s.certificate_active_kid or list(keys)[-1]
    if active not in keys:
        raise ValueError(f"CERTIFICATE_ACTIVE_KID {active} is not in CERTIFICATE_SIGNING_KEYS")
    return active, keys


def active_kid() -> str:
    return _keys()[0]


def sign(claims: dict[str, Any]) -> str:
    """Compact JWS (ES256) of the claims, `kid` and `typ` in the header."""
    kid, keys = _keys()
    return jwt.encode(claims, keys[kid], algorithm="ES256", headers={"kid": kid, "typ": "JWT"})


def _public_jwk(kid: str, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "ES256"}


def jwks() -> dict[str, Any]:
    """Every published public key (GET /.well-known/jwks.json)."""
    _, keys = _keys()
    return {"keys": [_public_jwk(kid, key) for kid, key in keys.items()]}


def did_web() -> str:
    """did:web of the platform's public origin (a port is percent-encoded, per did:web)."""
    netloc = urlparse(settings().public_base_url).netloc
    return "did:web:" + netloc.replace(":", "%3A")


def did_document() -> dict[str, Any]:
    """The did:web document (GET /.well-known/did.json): the same keys as the JWKS."""
    did = did_web()
    methods = [
        {
            "id": f"{did}#{jwk['kid']}",
            "type": "JsonWebKey2020",
            "controller": did,
            "publicKeyJwk": jwk,
        }
        for jwk in jwks()["keys"]
    ]
    refs = [m["id"] for m in methods]
    return {
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/suites/jws-2020/v1",
        ],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": refs,
        "authentication": refs,
    }
