"""Certificates as people see them (function certificates): the holder's list, the public
lookup by code and the signed Open Badges 3.0 credential. Issuance is `issuance.py`."""

from __future__ import annotations

from typing import Any

from shared.certificates import keys, rules
from shared.platform.config import settings
from shared.platform.db import transaction
from shared.platform.errors import NotFound

_CERT_SQL = """
SELECT z.id, z.channel_id, z.course_id, z.user_id, z.code, z.holder_name, z.course_title,
       z.course_description, z.subject_hash, z.subject_salt, z.issued_at, z.revoked_at,
       z.revocation_reason, ch.name AS channel_name, ch.slug AS channel_slug
  FROM certificates z JOIN channels ch ON ch.id = z.channel_id
"""


def _urls(code: str) -> dict[str, str]:
    base = settings().public_base_url.rstrip("/")
    return {
        "verify_url": rules.verify_url(code, base_url=base),
        "credential_url": f"{base}/v1/certificates/{rules.display_code(code)}/credential",
    }


def _by_code(typed: str) -> dict[str, Any]:
    """The certificate of a typed code, read under its channel's row-level security; unknown
    and malformed codes are the same 404."""
    code = rules.normalize_code(typed)
    if code is not None:
        with transaction() as tx:
            channel_id = tx.scalar("SELECT certificate_channel_of(:code)", code=code)
        if channel_id is not None:
            with transaction(channel_id=str(channel_id)) as tx:
                row = tx.one(_CERT_SQL + " WHERE z.code = :code", code=code)
            if row is not None:
                return dict(row)
    raise NotFound("No such certificate.")


def public_certificate(*, code: str) -> dict[str, Any]:
    """GET /v1/certificates/{code}: what anyone may verify."""
    cert = _by_code(code)
    out = {
        "code": rules.display_code(cert["code"]),
        "status": "revoked" if cert["revoked_at"] else "valid",
        "holder_name": cert["holder_name"],
        "course_title": cert["course_title"],
        "channel_name": cert["channel_name"],
        "issued_at": cert["issued_at"],
    }
    if cert["revoked_at"]:
        out["revocation_reason"] = cert["revocation_reason"]
    return out


def my_certificates(*, user_id: str) -> dict[str, Any]:
    """GET /v1/me/certificates: the caller's certificates in every channel, newest first."""
    with transaction(user_id=user_id) as tx:
        rows = tx.all(
            "SELECT id, code, course_id, channel_id, issued_at, revoked_at FROM certificates"
            " WHERE user_id = app_user_id() ORDER BY issued_at DESC, id DESC"
        )
    return {
        "items": [
            {
                "id": str(r["id"]),
                "code": rules.display_code(r["code"]),
                "course_id": str(r["course_id"]),
                "channel_id": str(r["channel_id"]),
                "issued_at": r["issued_at"],
                "status": "revoked" if r["revoked_at"] else "valid",
                "pdf_url": None,
                **_urls(r["code"]),
            }
            for r in rows
        ],
        "next_cursor": None,
    }


def credential_jwt(*, code: str) -> str:
    """GET /v1/certificates/{code}/credential: the signed OpenBadgeCredential (VC-JWT)."""
    cert = _by_code(code)
    doc = rules.credential(cert, base_url=settings().public_base_url)
    return keys.sign(rules.jwt_claims(doc, issued_at=cert["issued_at"]))


def jwks() -> dict[str, Any]:
    return keys.jwks()


def did_document() -> dict[str, Any]:
    return keys.did_document()
