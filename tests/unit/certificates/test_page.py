"""The verification page renders without a database: escaped names, Open Graph meta, the
LinkedIn link only while valid, and a style pinned by the CSP hash."""

import base64
import hashlib
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from shared.certificates import page

CERT = {
    "holder_name": 'Jo "<img src=x>"',
    "course_title": "Греческий & Ελληνικά",
    "channel_name": "Acme",
    "issued_at": datetime(2026, 5, 17, 9, 0, tzinfo=UTC),
    "revoked_at": None,
    "revocation_reason": None,
}


def render(**over):
    return page.render(
        {**CERT, **over},
        code="ABCD-EFGH-JKLM",
        verify_url="https://x.test/c/ABCD-EFGH-JKLM",
        credential_url="https://x.test/v1/certificates/ABCD-EFGH-JKLM/credential",
    ).decode()


def test_names_are_escaped_and_open_graph_describes_the_certificate():
    html = render()
    assert "<img" not in html and "&lt;img src=x&gt;" in html
    assert '<meta property="og:url" content="https://x.test/c/ABCD-EFGH-JKLM">' in html
    assert "Греческий &amp; Ελληνικά" in html
    assert '<time datetime="2026-05-17T09:00:00+00:00">2026-05-17</time>' in html


def test_the_linkedin_link_names_the_certification_and_disappears_when_revoked():
    link = page.linkedin_url(CERT, code="ABCD-EFGH-JKLM", verify_url="https://x.test/c/A")
    q = parse_qs(urlsplit(link).query)
    assert q["name"] == ["Греческий & Ελληνικά"] and q["certId"] == ["ABCD-EFGH-JKLM"]
    assert (q["issueYear"], q["issueMonth"], q["organizationName"]) == (["2026"], ["5"], ["Acme"])
    assert "linkedin.com" in render()
    revoked = render(revoked_at=datetime.now(UTC), revocation_reason="Fraud")
    assert "linkedin.com" not in revoked and "Revoked: Fraud" in revoked


def test_the_inline_style_is_the_one_the_csp_allows():
    digest = base64.b64encode(hashlib.sha256(page.CSS.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in page.HEADERS["Content-Security-Policy"]
    assert f"<style>{page.CSS}</style>" in render()
