"""Certificate PDFs (worker certificate_renderer) and the channel's certificate design.

Issuance queues one render task per certificate (the task name is derived from the
certificate, so queueing twice is a no-op). The worker renders the PDF into the certificates
bucket under a name derived from the certificate and only then records it, so a retried or
duplicated task writes the same object and the holder's list shows a link once it exists.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from datetime import UTC
from typing import Any

from shared import channels
from shared.certificates import batch_rule, design, rules
from shared.certificates.schemas import SettingsIn, TemplateIn
from shared.platform import audit
from shared.platform.config import settings
from shared.platform.db import transaction
from shared.platform.errors import NotFound, Unprocessable

log = logging.getLogger("certificates.rendering")
BUCKET = "certificates"
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
_DATA_URI = re.compile(r"^data:(image/(?:png|jpeg));base64,([A-Za-z0-9+/=\s]+)$")
_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}


def object_name(channel_id: str, certificate_id: str) -> str:
    return f"{channel_id}/{certificate_id}.pdf"


def theme_tokens(raw: Any) -> dict[str, str]:
    """The channel's colour tokens that are safe in CSS (anything else is left out)."""
    raw = raw if isinstance(raw, dict) else {}
    return {
        k: v
        for k, v in raw.items()
        if k in ("primary", "secondary", "accent", "background", "text")
        and isinstance(v, str)
        and _HEX.match(v)
    }


_RENDER_SQL = """
SELECT z.id, z.code, z.holder_name, z.course_title, z.issued_at, z.pdf_object,
       ch.name AS channel_name, ch.theme,
       t.html, t.css, t.logo, t.logo_type, t.signature, t.signature_type
  FROM certificates z JOIN channels ch ON ch.id = z.channel_id
  LEFT JOIN certificate_templates t ON t.channel_id = z.channel_id
 WHERE z.id = :i AND z.channel_id = app_channel_id()
"""


def _images(row: Any) -> dict[str, tuple[bytes, str]]:
    out: dict[str, tuple[bytes, str]] = {}
    for name in ("logo", "signature"):
        if row[name] is not None:
            out[name] = (bytes(row[name]), row[f"{name}_type"])
    return out


def _pdf(row: Any, *, html: str, css: str) -> bytes:
    from shared.certificates import pdf

    cert = {
        "holder_name": row["holder_name"],
        "course_title": row["course_title"],
        "channel_name": row["channel_name"],
        "issued_on": row["issued_at"].astimezone(UTC).date().isoformat(),
        "code": rules.display_code(row["code"]),
        "verify_url": rules.verify_url(row["code"], base_url=settings().public_base_url),
    }
    images = _images(row)
    ctx = design.context(
        cert,
        theme=theme_tokens(row["theme"]),
        has_logo="logo" in images,
        has_signature="signature" in images,
    )
    return pdf.render(html=html, css=css, ctx=ctx, images=images)


def render_certificate(*, channel_id: Any, certificate_id: Any) -> str:
    """The worker's job: rendered, exists (rendered before), unknown or malformed."""
    if not (rules.is_uuid(channel_id) and rules.is_uuid(certificate_id)):
        return "malformed"
    with transaction(channel_id=channel_id) as tx:
        row = tx.one(_RENDER_SQL, i=certificate_id)
    if row is None:
        return "unknown"
    if row["pdf_object"]:
        return "exists"
    html = row["html"] if row["html"] is not None else design.default_html()
    css = row["css"] if row["html"] is not None else design.default_css()
    body = _pdf(row, html=html, css=css)
    from shared.adapters import gcs_objects

    name = object_name(channel_id, certificate_id)
    gcs_objects.write(BUCKET, name, body, content_type="application/pdf")
    with transaction(channel_id=channel_id) as tx:
        tx.exec(
            "UPDATE certificates SET pdf_object = :o, pdf_rendered_at = now()"
            " WHERE id = :i AND channel_id = app_channel_id() AND pdf_object IS NULL",
            o=name,
            i=certificate_id,
        )
    log.info("certificate %s rendered (%d bytes)", certificate_id, len(body))
    return "rendered"


# --- the channel's design -----------------------------------------------------------------


def _image(field: str, value: str) -> tuple[bytes, str]:
    m = _DATA_URI.match(value)
    if m is None:
        raise _invalid(field, "Send the image as a data:image/png or data:image/jpeg base64 URI.")
    try:
        data = base64.b64decode("".join(m.group(2).split()), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(field, "The image is not valid base64.") from None
    if len(data) > design.MAX_IMAGE:
        raise _invalid(field, f"The image is larger than {design.MAX_IMAGE // 1024} KiB.")
    if not data.startswith(_MAGIC[m.group(1)]):
        raise _invalid(field, f"The image is not a {m.group(1)} file.")
    return data, m.group(1)


def _invalid(field: str, message: str) -> Unprocessable:
    return Unprocessable(message, errors=[{"loc": ["body", field], "msg": message}])


def _checked(data: TemplateIn) -> None:
    try:
        design.check(data.html, data.css, base_css=design.BASE_CSS)
    except design.TemplateProblem as err:
        raise _invalid(err.field, str(err)) from None


def _template_view(row: Any) -> dict[str, Any]:
    if row is None:
        return {
            "html": design.default_html(),
            "css": design.default_css(),
            "has_logo": False,
            "has_signature": False,
            "updated_at": None,
        }
    return {
        "html": row["html"],
        "css": row["css"],
        "has_logo": row["logo"] is not None,
        "has_signature": row["signature"] is not None,
        "updated_at": row["updated_at"],
    }


def get_template(*, channel_id: str, user_id: str) -> dict[str, Any]:
    """GET {c}/certificate-template: the channel's design, or the shipped default."""
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        channels.require(tx, user_id, "channel.update")
        row = tx.one("SELECT * FROM certificate_templates WHERE channel_id = app_channel_id()")
    return _template_view(row)


def save_template(*, channel_id: str, user_id: str, data: TemplateIn) -> dict[str, Any]:
    """PUT {c}/certificate-template (owner, admin): checked first, saved whole, audited.
    Certificates already rendered keep their PDF; new ones use the new design."""
    images = {
        name: (_image(name, value) if value is not None else None)
        for name, value in (("logo", data.logo), ("signature", data.signature))
        if name in data.model_fields_set
    }
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        channels.require(tx, user_id, "channel.update")
        _checked(data)
        tx.exec(
            "INSERT INTO certificate_templates (channel_id, html, css, updated_by)"
            " VALUES (app_channel_id(), :h, :c, :u)"
            " ON CONFLICT (channel_id) DO UPDATE SET html = EXCLUDED.html, css = EXCLUDED.css,"
            " updated_by = EXCLUDED.updated_by, updated_at = now()",
            h=data.html,
            c=data.css,
            u=user_id,
        )
        for name, image in images.items():
            tx.exec(
                f"UPDATE certificate_templates SET {name} = :b, {name}_type = :t"
                " WHERE channel_id = app_channel_id()",
                b=image[0] if image else None,
                t=image[1] if image else None,
            )
        audit.record(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="certificate_template.updated",
            target_type="channel",
            target_id=channel_id,
            details={"html_chars": len(data.html), "css_chars": len(data.css)},
        )
        row = tx.one("SELECT * FROM certificate_templates WHERE channel_id = app_channel_id()")
    return _template_view(row)


def preview_template(*, channel_id: str, user_id: str, data: TemplateIn) -> bytes:
    """POST {c}/certificate-template/preview: the PDF the template makes with sample data
    (nothing saved); the channel's stored images stand in for those not sent."""
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        channels.require(tx, user_id, "channel.update")
        _checked(data)
        row = tx.one(
            "SELECT ch.name AS channel_name, ch.theme, t.logo, t.logo_type, t.signature,"
            "       t.signature_type"
            "  FROM channels ch LEFT JOIN certificate_templates t ON t.channel_id = ch.id"
            " WHERE ch.id = app_channel_id()"
        )
    if row is None:
        raise NotFound("No such channel.")
    images = _images(row)
    for name in ("logo", "signature"):
        value = getattr(data, name)
        if value is not None:
            images[name] = _image(name, value)
    from shared.certificates import pdf

    sample = {**design.SAMPLE, "channel_name": row["channel_name"]}
    ctx = design.context(
        sample,
        theme=theme_tokens(row["theme"]),
        has_logo="logo" in images,
        has_signature="signature" in images,
    )
    return pdf.render(html=data.html, css=data.css, ctx=ctx, images=images)


def get_settings(*, channel_id: str, user_id: str) -> dict[str, Any]:
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        channels.require(tx, user_id, "certificates.read")
        return {"attendance_threshold": batch_rule.attendance_threshold(tx)}


def save_settings(*, channel_id: str, user_id: str, data: SettingsIn) -> dict[str, Any]:
    """PUT {c}/certificate-settings (owner, admin): the batch rule's attendance threshold.
    Students already holding a certificate keep it."""
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        channels.require(tx, user_id, "channel.update")
        tx.exec(
            "INSERT INTO certificate_settings (channel_id, attendance_threshold)"
            " VALUES (app_channel_id(), :t) ON CONFLICT (channel_id) DO UPDATE"
            " SET attendance_threshold = EXCLUDED.attendance_threshold, updated_at = now()",
            t=round(data.attendance_threshold, 3),
        )
        audit.record(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="certificate_settings.updated",
            target_type="channel",
            target_id=channel_id,
            details={"attendance_threshold": data.attendance_threshold},
        )
        return {"attendance_threshold": batch_rule.attendance_threshold(tx)}
