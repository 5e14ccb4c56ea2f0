"""What a stranger does with a credential, with nothing of ours but the JWKS: verify the JWS
with joserfc (a JOSE library independent of the pyjwt that signs) and validate the Open Badges
3.0 credential against 1EdTech's AchievementCredential schema (a copy of
../shared/ob3/ob_v3p0_achievementcredential_schema.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from joserfc import jws as jose_jws
from joserfc.jwk import KeySet

SCHEMA = json.loads(
    (Path(__file__).with_name("ob_v3p0_achievementcredential_schema.json")).read_text()
)


def verify(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The JWT claims of a compact JWS whose ES256 signature verifies with the JWKS key named by
    its `kid`; raises otherwise."""
    header = json.loads(_b64(token.split(".")[0]))
    assert header["alg"] == "ES256"
    assert header["kid"] in {k["kid"] for k in jwks["keys"]}
    keys = KeySet.import_key_set(jwks)
    key = keys.get_by_kid(header["kid"])
    return json.loads(jose_jws.deserialize_compact(token, key, algorithms=["ES256"]).payload)


def validate(credential: dict[str, Any]) -> None:
    """Raises jsonschema.ValidationError unless the credential is a valid AchievementCredential."""
    jsonschema.Draft201909Validator(SCHEMA).validate(credential)


def _b64(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
