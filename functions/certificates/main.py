"""HTTP route family: certificates (the holder's list, public verification, the signed Open
Badges 3.0 credential) and the issuer's published keys."""

import functions_framework
from flask import Response

from shared import certificates
from shared.certificates.schemas import (
    ChannelCertificate,
    ChannelCertificateList,
    DidDocument,
    Jwks,
    MyCertificateList,
    PublicCertificate,
    RevokeIn,
    SettingsIn,
    SettingsOut,
    ShareIn,
    ShareOut,
    TemplateIn,
    TemplateOut,
)
from shared.web import Api, Ctx

api = Api("certificates", tag="Certificates")
UNKNOWN = {404: "No such certificate", 429: "Too many lookups from this address"}
HTML = {"type": "string", "contentMediaType": "text/html"}
C = "/v1/channels/{channel_id}"
VC_JWT = {"type": "string", "contentMediaType": "application/vc+jwt"}
PDF = {"type": "string", "format": "binary", "contentMediaType": "application/pdf"}
DESIGN_ERRORS = {
    403: "Owner or admin only",
    404: "No such channel (or not a member)",
    422: "The template does not parse, fetches something remote, is too large, or does not"
    " print `{{ holder_name }}` (a certificate must name its holder)",
}


@api.route(
    "GET",
    "/v1/me/certificates",
    response=MyCertificateList,
    summary="My certificates in every channel, newest first",
)
def my_certificates(ctx: Ctx):
    return certificates.my_certificates(user_id=ctx.require_user())


@api.route(
    "GET",
    "/v1/certificates/status-lists/{channel_id}",
    auth="none",
    content_type="application/vc+jwt",
    response=VC_JWT,
    errors={404: "No such status list"},
    summary="A channel's revocation list (Bitstring Status List credential, VC-JWT)",
)
def status_list(ctx: Ctx) -> Response:
    jws = certificates.status_list_jwt(channel_id=ctx.params["channel_id"])
    return Response(jws, status=200, content_type="application/vc+jwt")


@api.route(
    "GET",
    "/v1/certificates/{code}",
    auth="none",
    response=PublicCertificate,
    errors=UNKNOWN,
    summary="Verify a certificate by its code",
)
def public_certificate(ctx: Ctx):
    return certificates.public_certificate(code=ctx.params["code"], client_ip=ctx.client_ip)


@api.route(
    "GET",
    "/v1/certificates/{code}/credential",
    auth="none",
    content_type="application/vc+jwt",
    response=VC_JWT,
    errors=UNKNOWN,
    summary="The signed Open Badges 3.0 credential (VC-JWT, ES256)",
)
def credential(ctx: Ctx) -> Response:
    jws = certificates.credential_jwt(code=ctx.params["code"], client_ip=ctx.client_ip)
    return Response(jws, status=200, content_type="application/vc+jwt")


@api.route(
    "POST",
    "/v1/certificates/{code}/shares",
    auth="none",
    body=ShareIn,
    status=201,
    response=ShareOut,
    errors=UNKNOWN,
    summary="A link to share the certificate on LinkedIn or X, or to download it (counted)",
)
def share(ctx: Ctx):
    return certificates.share(
        code=ctx.params["code"], network=ctx.body.network, client_ip=ctx.client_ip
    )


@api.route(
    "GET",
    "/.well-known/jwks.json",
    auth="none",
    response=Jwks,
    summary="The issuer's public keys (every key that signed a credential still valid)",
)
def jwks(ctx: Ctx):
    return certificates.jwks()


@api.route(
    "GET",
    "/.well-known/did.json",
    auth="none",
    response=DidDocument,
    summary="The issuer's did:web document (the same keys)",
)
def did_document(ctx: Ctx):
    return certificates.did_document()


@api.route(
    "GET",
    "/c/{code}",
    auth="none",
    content_type="text/html",
    response=HTML,
    errors=UNKNOWN,
    summary="Public verification page of a certificate (Open Graph meta)",
)
def verification_page(ctx: Ctx) -> Response:
    body, headers = certificates.verification_page(code=ctx.params["code"], client_ip=ctx.client_ip)
    return Response(body, status=200, headers=headers)


@api.route(
    "GET",
    C + "/certificates",
    response=ChannelCertificateList,
    errors={403: "Staff only", 404: "No such channel (or not a member)"},
    summary="Every certificate the channel issued, with views (staff)",
)
def channel_certificates(ctx: Ctx):
    return certificates.channel_certificates(
        channel_id=ctx.params["channel_id"], user_id=ctx.require_user()
    )


@api.route(
    "POST",
    C + "/certificates/{certificate_id}/revoke",
    body=RevokeIn,
    response=ChannelCertificate,
    errors={403: "Owner or admin only", 404: "No such channel or certificate"},
    summary="Revoke a certificate; every view shows it revoked with the reason",
)
def revoke(ctx: Ctx):
    return certificates.revoke(
        channel_id=ctx.params["channel_id"],
        user_id=ctx.require_user(),
        certificate_id=ctx.params["certificate_id"],
        data=ctx.body,
    )


@api.route(
    "GET",
    C + "/certificate-template",
    response=TemplateOut,
    errors={403: "Owner or admin only", 404: "No such channel (or not a member)"},
    summary="The channel's certificate template (or the shipped default)",
)
def get_template(ctx: Ctx):
    return certificates.get_template(
        channel_id=ctx.params["channel_id"], user_id=ctx.require_user()
    )


@api.route(
    "PUT",
    C + "/certificate-template",
    body=TemplateIn,
    response=TemplateOut,
    errors=DESIGN_ERRORS,
    summary="Save the channel's certificate template (Jinja2 HTML + CSS), validated",
)
def save_template(ctx: Ctx):
    return certificates.save_template(
        channel_id=ctx.params["channel_id"], user_id=ctx.require_user(), data=ctx.body
    )


@api.route(
    "POST",
    C + "/certificate-template/preview",
    body=TemplateIn,
    content_type="application/pdf",
    response=PDF,
    errors=DESIGN_ERRORS,
    summary="Preview a certificate template as a PDF with sample data (nothing saved)",
)
def preview_template(ctx: Ctx) -> Response:
    body = certificates.preview_template(
        channel_id=ctx.params["channel_id"], user_id=ctx.require_user(), data=ctx.body
    )
    return Response(
        body,
        status=200,
        content_type="application/pdf",
        headers={"Content-Disposition": 'inline; filename="certificate-preview.pdf"'},
    )


@api.route(
    "GET",
    C + "/certificate-settings",
    response=SettingsOut,
    errors={403: "Staff only", 404: "No such channel (or not a member)"},
    summary="The channel's certificate rule for batches (attendance threshold)",
)
def get_settings(ctx: Ctx):
    return certificates.get_settings(
        channel_id=ctx.params["channel_id"], user_id=ctx.require_user()
    )


@api.route(
    "PUT",
    C + "/certificate-settings",
    body=SettingsIn,
    response=SettingsOut,
    errors={403: "Owner or admin only", 404: "No such channel (or not a member)"},
    summary="Set the attendance rate a batch's students need for the certificate",
)
def save_settings(ctx: Ctx):
    return certificates.save_settings(
        channel_id=ctx.params["channel_id"], user_id=ctx.require_user(), data=ctx.body
    )


handle_certificates = functions_framework.http(api)
