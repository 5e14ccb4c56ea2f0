"""The public verification page `/c/{code}`: server-rendered HTML with Open Graph meta.

Autoescaped jinja2; the inline stylesheet is pinned by its hash in the Content-Security-Policy,
so even injected markup could neither run script nor add styles."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from shared.platform import templating

TEMPLATES = Path(__file__).with_name("templates")
CSS = (
    "body{font-family:system-ui,sans-serif;margin:0;background:#f6f6f4;color:#1b1b1b}"
    ".certificate{max-width:40rem;margin:3rem auto;padding:2rem;background:#fff;"
    "border:1px solid #ddd;text-align:center}"
    ".status{font-weight:700}.valid .status{color:#116b2f}.revoked .status{color:#a31515}"
    ".code{font-family:monospace;letter-spacing:.1em}dl{display:grid;"
    "grid-template-columns:auto auto;justify-content:center;gap:.25rem 1rem}"
    "nav a{display:inline-block;margin:.5rem}"
)
_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    # A revocation must show at once: no shared cache keeps the old page.
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; base-uri 'none';"
        " form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def _template() -> Any:
    return templating.environment(TEMPLATES).get_template("certificate.html")


def linkedin_url(cert: dict[str, Any], *, code: str, verify_url: str) -> str:
    """LinkedIn's "add to profile" link for a certification."""
    issued = cert["issued_at"]
    query = {
        "startTask": "CERTIFICATION_NAME",
        "name": cert["course_title"],
        "organizationName": cert["channel_name"],
        "issueYear": issued.year,
        "issueMonth": issued.month,
        "certUrl": verify_url,
        "certId": code,
    }
    return "https://www.linkedin.com/profile/add?" + urlencode(query)


def render(cert: dict[str, Any], *, code: str, verify_url: str, credential_url: str) -> bytes:
    status = "revoked" if cert["revoked_at"] else "valid"
    day = cert["issued_at"].date().isoformat()
    title = f"{cert['course_title']} · {cert['holder_name']}"
    description = (
        f"{cert['holder_name']} completed {cert['course_title']} at {cert['channel_name']}"
        f" on {day}. Certificate {code}: {status}."
    )
    html = _template().render(
        cert=cert,
        code=code,
        status=status,
        title=title,
        description=description,
        verify_url=verify_url,
        credential_url=credential_url,
        linkedin_url=linkedin_url(cert, code=code, verify_url=verify_url),
        issued_iso=cert["issued_at"].isoformat(),
        issued_day=day,
        css=CSS,
    )
    return html.encode()
