"""Certificates as people see them (function certificates): the holder's list, the public
lookup by code and the signed Open Badges 3.0 credential. Issuance is `issuance.py`."""

from __future__ import annotations

from typing import Any

from shared import analytics, channels
from shared.certificates import keys, rules
from shared.certificates.schemas import RevokeIn
from shared.platform import audit, ratelimit
from shared.platform.config import settings
from shared.platform.db import transaction
from shared.platform.errors import NotFound

# What each public read records (analytics, per certificate, for the creator and anti-fraud).
VIEWED = "certificate.viewed"  # the page
VERIFIED = "certificate.verified"  # the JSON record or the credential
SHARED = "certificate.shared"  # a share link asked for (network in the metadata)
PDF_URL_SECONDS = 300  # the holder's PDF link: short-lived, the list hands out a fresh one

_CERT_SQL = """
SELECT z.id, z.channel_id, z.course_id, z.user_id, z.code, z.holder_name, z.course_title,
       z.course_description, z.subject_hash, z.subject_salt, z.issued_at, z.revoked_at,
       z.revocation_reason, z.status_index, ch.name AS channel_name, ch.slug AS channel_slug
  FROM certificates z JOIN channels ch ON ch.id = z.channel_id
"""


def _urls(code: str) -> dict[str, str]:
    base = settings().public_base_url.rstrip("/")
    return {
        "verify_url": rules.verify_url(code, base_url=base),
        "credential_url": f"{base}/v1/certificates/{rules.display_code(code)}/credential",
    }


def _by_code(
    typed: str, *, client_ip: str, via: str, event: str | None = None, **extra: str
) -> dict[str, Any]:
    """The certificate of a typed code, read under its channel's row-level security, and the
    read recorded there. Every lookup counts against the client address's limit first, so
    codes cannot be enumerated. A code that cannot exist, one never issued and one revoked
    and purged take the same path to the same 404: the same two queries (the second under a
    channel that owns nothing), so neither the answer nor its timing tells them apart."""
    ratelimit.hit(
        f"certificate:ip:{client_ip}",
        settings().rate_limit_certificate_lookup_ip,
        detail="Too many certificate lookups; try again later.",
    )
    code = rules.normalize_code(typed) or rules.IMPOSSIBLE_CODE
    with transaction() as tx:
        channel_id = tx.scalar("SELECT certificate_channel_of(:code)", code=code)
    with transaction(channel_id=str(channel_id or rules.NO_CHANNEL)) as tx:
        row = tx.one(_CERT_SQL + " WHERE z.code = :code", code=code)
        if row is not None:
            analytics.record(
                tx,
                event_type=event or (VIEWED if via == "page" else VERIFIED),
                user_id=None,
                metadata={"certificate_id": str(row["id"]), "via": via, **extra},
            )
            return dict(row)
    raise NotFound("No such certificate.")


def _status(cert: dict[str, Any]) -> str:
    return "revoked" if cert["revoked_at"] else "valid"


def public_certificate(*, code: str, client_ip: str) -> dict[str, Any]:
    """GET /v1/certificates/{code}: what anyone may verify."""
    cert = _by_code(code, client_ip=client_ip, via="json")
    out = {
        "code": rules.display_code(cert["code"]),
        "status": _status(cert),
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
            "SELECT id, code, course_id, channel_id, issued_at, revoked_at, pdf_object"
            "  FROM certificates"
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
                "status": _status(r),
                "pdf_url": _pdf_url(r["pdf_object"], r["code"]),
                **_urls(r["code"]),
            }
            for r in rows
        ],
        "next_cursor": None,
    }


def _pdf_url(pdf_object: str | None, code: str) -> str | None:
    """A short-lived signed link to the PDF for its holder; None until it is rendered."""
    if not pdf_object:
        return None
    from shared.adapters import gcs  # only this route signs (the storage client's import cost)

    url, _ = gcs.signed_get_url(
        "certificates",
        pdf_object,
        expires_seconds=PDF_URL_SECONDS,
        filename=f"certificate-{rules.display_code(code)}.pdf",
    )
    return url


def credential_jwt(*, code: str, client_ip: str) -> str:
    """GET /v1/certificates/{code}/credential: the signed OpenBadgeCredential (VC-JWT)."""
    cert = _by_code(code, client_ip=client_ip, via="credential")
    doc = rules.credential(cert, base_url=settings().public_base_url)
    return keys.sign(rules.jwt_claims(doc, issued_at=cert["issued_at"]))


def jwks() -> dict[str, Any]:
    return keys.jwks()


def did_document() -> dict[str, Any]:
    return keys.did_document()


def verification_page(*, code: str, client_ip: str) -> tuple[bytes, dict[str, str]]:
    """GET /c/{code}: the public page (HTML with Open Graph meta) and its headers."""
    from shared.certificates import page

    cert = _by_code(code, client_ip=client_ip, via="page")
    urls = _urls(cert["code"])
    body = page.render(
        cert,
        code=rules.display_code(cert["code"]),
        verify_url=urls["verify_url"],
        credential_url=urls["credential_url"],
    )
    return body, dict(page.HEADERS)


_STAFF_SQL = """
SELECT z.id, z.code, z.course_id, z.user_id, z.holder_name, z.course_title, z.issued_at,
       z.revoked_at, z.revocation_reason,
       v.views, v.shares
  FROM certificates z
  CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE e.event_type IN ('certificate.viewed',
                                                     'certificate.verified')) AS views,
             count(*) FILTER (WHERE e.event_type = 'certificate.shared') AS shares
        FROM analytics_events e
       WHERE e.channel_id = z.channel_id
         AND e.event_type IN ('certificate.viewed', 'certificate.verified', 'certificate.shared')
         AND e.metadata->>'certificate_id' = z.id::text) v
 WHERE z.channel_id = app_channel_id()
"""


def _staff_view(r: Any) -> dict[str, Any]:
    return {
        "id": str(r["id"]),
        "code": rules.display_code(r["code"]),
        "course_id": str(r["course_id"]),
        "user_id": str(r["user_id"]),
        "holder_name": r["holder_name"],
        "course_title": r["course_title"],
        "issued_at": r["issued_at"],
        "status": _status(r),
        "revoked_at": r["revoked_at"],
        "revocation_reason": r["revocation_reason"],
        "views": int(r["views"]),
        "shares": int(r["shares"]),
        **_urls(r["code"]),
    }


def channel_certificates(*, channel_id: str, user_id: str) -> dict[str, Any]:
    """GET {c}/certificates: every certificate the channel issued, newest first (staff)."""
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        channels.require(tx, user_id, "certificates.read")
        rows = tx.all(_STAFF_SQL + " ORDER BY z.issued_at DESC, z.id DESC")
    return {"items": [_staff_view(r) for r in rows], "next_cursor": None}


def revoke(*, channel_id: str, user_id: str, certificate_id: str, data: RevokeIn) -> dict[str, Any]:
    """POST {c}/certificates/{id}/revoke (owner, admin): the record, page and holder's list
    show it revoked with the reason from now on. Revoking a revoked certificate changes
    nothing and answers it as it is."""
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        channels.require(tx, user_id, "certificates.revoke")
        if not rules.is_uuid(certificate_id):
            raise NotFound("No such certificate.")
        row = tx.one(
            "UPDATE certificates SET revoked_at = now(), revocation_reason = :r"
            " WHERE id = :i AND channel_id = app_channel_id() AND revoked_at IS NULL"
            " RETURNING id",
            i=certificate_id,
            r=data.reason,
        )
        if row is not None:
            audit.record_change(
                tx,
                channel_id=channel_id,
                actor_user_id=user_id,
                action="certificate.revoked",
                target_type="certificate",
                target_id=certificate_id,
                payload={"certificate_id": certificate_id, "reason": data.reason},
            )
        current = tx.one(_STAFF_SQL + " AND z.id = :i", i=certificate_id)
    if current is None:
        raise NotFound("No such certificate.")
    return _staff_view(current)


def share(*, code: str, network: str, client_ip: str) -> dict[str, Any]:
    """POST /v1/certificates/{code}/shares: the link to share the certificate on a network, or
    to download it; every one is counted for the creator."""
    cert = _by_code(code, client_ip=client_ip, via="share", event=SHARED, network=network)
    shown = rules.display_code(cert["code"])
    urls = _urls(cert["code"])
    text = f"{cert['holder_name']} completed {cert['course_title']} ({cert['channel_name']})"
    return {
        "share_url": rules.share_url(
            network,
            verify_url=urls["verify_url"],
            text=text,
            download_url=urls["credential_url"],
            code=shown,
        )
    }


def status_list_jwt(*, channel_id: str) -> str:
    """GET /v1/certificates/status-lists/{channel_id}: the channel's revocation list, signed
    afresh on every read, so a revocation shows in it at once."""
    if not rules.is_uuid(channel_id):
        raise NotFound("No such status list.")
    with transaction(channel_id=channel_id) as tx:
        channel = tx.one("SELECT id, slug FROM channels WHERE id = app_channel_id()")
        revoked = tx.all(
            "SELECT status_index FROM certificates"
            " WHERE channel_id = app_channel_id() AND revoked_at IS NOT NULL"
        )
        now = tx.scalar("SELECT now()")
    if channel is None:
        raise NotFound("No such status list.")
    doc = rules.status_list_credential(
        dict(channel),
        [r["status_index"] for r in revoked],
        base_url=settings().public_base_url,
        now=now,
    )
    return keys.sign(
        {"iss": doc["issuer"], "jti": doc["id"], "iat": int(now.timestamp()), "vc": doc}
    )
