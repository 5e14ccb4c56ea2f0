"""Certificates of completion: issuance, public verification and the signed Open Badges 3.0
credential."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.certificates.issuance import on_course_completed
    from shared.certificates.mail import on_certificate_issued
    from shared.certificates.rendering import (
        get_settings,
        get_template,
        preview_template,
        render_certificate,
        save_settings,
        save_template,
    )
    from shared.certificates.service import (
        channel_certificates,
        credential_jwt,
        did_document,
        jwks,
        my_certificates,
        public_certificate,
        revoke,
        share,
        status_list_jwt,
        verification_page,
    )

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "channel_certificates",
    "credential_jwt",
    "did_document",
    "get_settings",
    "get_template",
    "jwks",
    "my_certificates",
    "on_certificate_issued",
    "on_course_completed",
    "preview_template",
    "public_certificate",
    "render_certificate",
    "revoke",
    "save_settings",
    "save_template",
    "share",
    "status_list_jwt",
    "verification_page",
]
