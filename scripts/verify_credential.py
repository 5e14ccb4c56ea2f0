"""Verify a certificate's Open Badges 3.0 credential the way a stranger would: with nothing
but the credential (a VC-JWT) and the issuer's public JWKS. Uses none of the platform's code.

    python scripts/verify_credential.py CREDENTIAL --jwks JWKS [--status-list LIST] [--no-status]

CREDENTIAL: the compact JWS itself, a file holding it, `-` (stdin), or its URL
            (https://HOST/v1/certificates/CODE/credential).
JWKS:       a file or URL (https://HOST/.well-known/jwks.json).
LIST:       the status list credential (file or URL); by default the credential's own
            `credentialStatus.statusListCredential` URL is fetched.

Checks, in order: the JWS header (ES256, a `kid` the JWKS has), the ES256 signature, the
payload against 1EdTech's OB 3.0 AchievementCredential JSON schema, the registered claims
against the credential (iss, jti, nbf), and the revocation bit in the Bitstring Status List
(itself a VC-JWT verified with the same JWKS). Prints the verdict and exits 0 (valid),
1 (revoked) or 2 (invalid: not to be trusted)."""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import jsonschema
import jwt

SCHEMA = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "unit"
    / "certificates"
    / "ob_v3p0_achievementcredential_schema.json"
)
VALID, REVOKED, INVALID = 0, 1, 2


class Invalid(Exception):
    pass


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read().strip()
    if source.startswith(("https://", "http://")):
        req = urllib.request.Request(source, headers={"Accept": "application/vc+jwt, */*"})
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.read().decode().strip()
    try:
        path = Path(source)
        if path.is_file():
            return path.read_text().strip()
    except OSError:  # a JWS is too long to be a file name
        pass
    return source.strip()


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_jws(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The claims of an ES256 compact JWS signed by a key of the JWKS (by `kid`)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise Invalid("not a compact JWS")
    try:
        header = json.loads(_b64(parts[0]))
    except ValueError as e:
        raise Invalid("unreadable JWS header") from e
    if header.get("alg") != "ES256":
        raise Invalid(f"alg is {header.get('alg')!r}, not ES256")
    keys = {k.get("kid"): k for k in jwks.get("keys", [])}
    if header.get("kid") not in keys:
        raise Invalid(f"kid {header.get('kid')!r} is not in the JWKS")
    key = jwt.PyJWK(keys[header["kid"]]).key
    try:
        return jwt.decode(
            token,
            key,
            algorithms=["ES256"],
            options={"verify_aud": False, "verify_exp": True, "verify_nbf": True},
        )
    except jwt.InvalidSignatureError as e:
        raise Invalid("the signature does not verify with the issuer's key") from e
    except jwt.PyJWTError as e:
        raise Invalid(f"the JWT is not acceptable: {e}") from e


def check_credential(claims: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    vc = claims.get("vc", claims)
    try:
        jsonschema.Draft201909Validator(schema).validate(vc)
    except jsonschema.ValidationError as e:
        raise Invalid(f"not an OB 3.0 AchievementCredential: {e.message}") from e
    issuer = vc["issuer"]["id"] if isinstance(vc["issuer"], dict) else vc["issuer"]
    if "iss" in claims and claims["iss"] != issuer:
        raise Invalid("iss differs from the credential's issuer")
    if "jti" in claims and claims["jti"] != vc.get("id"):
        raise Invalid("jti differs from the credential's id")
    if "nbf" in claims and claims["nbf"] > time.time() + 60:
        raise Invalid("not valid yet")
    return vc


def revoked(vc: dict[str, Any], jwks: dict[str, Any], status_list: str | None) -> bool:
    """Whether the credential's bit is set in its revocation status list."""
    status = vc.get("credentialStatus")
    if not status:
        raise Invalid("the credential names no status list")
    entries = status if isinstance(status, list) else [status]
    entry = next((s for s in entries if s.get("statusPurpose") == "revocation"), None)
    if entry is None:
        raise Invalid("no revocation status entry")
    claims = verify_jws(_read(status_list or entry["statusListCredential"]), jwks)
    listed = claims.get("vc", claims)
    if listed.get("id") != entry["statusListCredential"]:
        raise Invalid("the status list is not the one the credential names")
    subject = listed["credentialSubject"]
    if subject.get("statusPurpose") != "revocation":
        raise Invalid("the status list is not a revocation list")
    encoded = subject["encodedList"].removeprefix("u")
    bits = gzip.decompress(_b64(encoded))
    index = int(entry["statusListIndex"])
    if index >= len(bits) * 8:
        raise Invalid("the status index is outside the list")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def verify(
    credential: str,
    jwks_source: str,
    *,
    status_list: str | None = None,
    check_status: bool = True,
    schema_path: Path = SCHEMA,
) -> tuple[int, str]:
    """(exit code, verdict line)."""
    try:
        jwks = json.loads(_read(jwks_source))
        claims = verify_jws(_read(credential), jwks)
        vc = check_credential(claims, json.loads(schema_path.read_text()))
        name = vc.get("name") or vc["credentialSubject"]["achievement"]["name"]
        issuer = vc["issuer"].get("name") if isinstance(vc["issuer"], dict) else vc["issuer"]
        what = f"{name!r} issued by {issuer!r} on {vc.get('validFrom', '?')}"
        if check_status and revoked(vc, jwks, status_list):
            return REVOKED, f"REVOKED: {what} (signature valid, revoked by the issuer)"
        suffix = "" if check_status else " (status not checked)"
        return VALID, f"VALID: {what}{suffix}"
    except Invalid as e:
        return INVALID, f"INVALID: {e}"
    except (OSError, ValueError, KeyError, TypeError) as e:
        return INVALID, f"INVALID: cannot read the credential, JWKS or status list ({e})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("credential", help="the JWS, a file holding it, '-' or its URL")
    ap.add_argument("--jwks", required=True, help="the issuer's JWKS: file or URL")
    ap.add_argument("--status-list", help="the status list credential: file or URL")
    ap.add_argument("--no-status", action="store_true", help="skip the revocation check")
    ap.add_argument("--schema", type=Path, default=SCHEMA, help="OB 3.0 JSON schema")
    args = ap.parse_args(argv)
    code, line = verify(
        args.credential,
        args.jwks,
        status_list=args.status_list,
        check_status=not args.no_status,
        schema_path=args.schema,
    )
    print(line)
    return code


if __name__ == "__main__":
    sys.exit(main())
