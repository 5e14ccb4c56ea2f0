"""Response bodies of the certificate routes (API.md "Certificates")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from shared.platform.models import Model, Out


class MyCertificate(Out):
    id: str
    code: str = Field(description="Human-typable code, `XXXX-XXXX-XXXX` (no 0, O, 1 or I)")
    course_id: str
    channel_id: str
    issued_at: datetime
    status: Literal["valid", "revoked"]
    pdf_url: str | None = Field(description="null until the PDF is rendered")
    verify_url: str = Field(description="The public verification page")
    credential_url: str = Field(description="The signed Open Badges 3.0 credential (VC-JWT)")


class MyCertificateList(Out):
    items: list[MyCertificate]
    next_cursor: str | None = Field(description="Always null: every certificate is listed")


class PublicCertificate(Out):
    code: str
    status: Literal["valid", "revoked"]
    revocation_reason: str | None = Field(default=None, description="Only when revoked")
    holder_name: str = Field(description="The holder's name as it was at issue")
    course_title: str
    channel_name: str
    issued_at: datetime


class Jwks(Out):
    keys: list[dict[str, Any]] = Field(description="Public P-256 keys (JWK), each with its kid")


class DidDocument(Out):
    id: str = Field(description="did:web of the platform's public origin")
    verificationMethod: list[dict[str, Any]]  # DID core's field names
    assertionMethod: list[str]


class RevokeIn(Model):
    reason: str = Field(min_length=1, max_length=500, description="Shown with the revocation")


class ChannelCertificate(Out):
    id: str
    code: str
    course_id: str
    user_id: str
    holder_name: str
    course_title: str
    issued_at: datetime
    status: Literal["valid", "revoked"]
    revoked_at: datetime | None
    revocation_reason: str | None
    views: int = Field(description="Page views and verifications of the certificate")
    shares: int = Field(description="Share and download links asked for")
    verify_url: str
    credential_url: str


class ChannelCertificateList(Out):
    items: list[ChannelCertificate]
    next_cursor: str | None = Field(description="Always null: every certificate is listed")


class ShareIn(Model):
    network: Literal["linkedin", "x", "download"]


class ShareOut(Out):
    share_url: str = Field(
        description="Where to send the holder: the network's share page, or the download"
    )


_IMAGE = (
    "Optional image as a data: URI (image/png or image/jpeg, base64, at most 256 KiB"
    " decoded); null removes it, absent keeps the stored one"
)


class TemplateIn(Model):
    html: str = Field(
        min_length=1,
        max_length=65536,
        description=(
            "Jinja2 template of the certificate's body (sandboxed). It sees holder_name,"
            " course_title, channel_name, issued_on, code, verify_url, theme.<token>,"
            " logo_url, signature_url and qr_url, and must print holder_name, code and"
            " verify_url. Images only from logo_url, signature_url, qr_url or data: URIs."
        ),
    )
    css: str = Field(
        default="",
        max_length=65536,
        description="Stylesheet; theme tokens are CSS variables (var(--primary))",
    )
    logo: str | None = Field(default=None, max_length=360000, description=_IMAGE)
    signature: str | None = Field(default=None, max_length=360000, description=_IMAGE)


class TemplateOut(Out):
    html: str
    css: str
    has_logo: bool
    has_signature: bool
    updated_at: datetime | None = Field(description="null: the shipped default template")


class SettingsIn(Model):
    # strict: a JSON `false` is not the number 0
    attendance_threshold: float = Field(
        strict=True,
        ge=0,
        le=1,
        description=(
            "A batch's student gets the certificate once every lesson is complete and their"
            " live attendance rate reaches this (0 to 1; default 0.75)"
        ),
    )


class SettingsOut(Out):
    attendance_threshold: float
