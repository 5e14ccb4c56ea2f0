"""Public pages over HTTP: themed, published-only, cacheable (ETag/304), escaped."""

from __future__ import annotations

import re

import pytest
import requests

from tests.factories import make_course
from tests.helpers import make_channel, signup

pytestmark = pytest.mark.e2e
THEME = {
    "primary": "#be123c",
    "accent": "#fde047",
    "font": "Georgia",
    "logo_url": "https://cdn.example.com/logo.png",
}


@pytest.fixture
def admin(admin_db):
    conn = admin_db()
    yield conn
    conn.close()


@pytest.fixture
def site(gateway_url, admin):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner, theme=THEME, name="Studio <b>Bold</b>")
    shown = make_course(
        admin,
        ch["id"],
        owner.id,
        title="Lighting <script>alert(1)</script>",
        description='Learn "light" & <img src=x onerror=alert(1)>',
        lessons=(("video", 125.0), ("text", None)),
        price=2500,
    )
    hidden = make_course(admin, ch["id"], owner.id, title="Secret draft", status="draft")
    return {
        "ch": ch,
        "shown": shown,
        "hidden": hidden,
        "owner": owner,
        "landing": f"{gateway_url}/ch/{ch['slug']}",
    }


def test_landing_page_is_themed_lists_published_courses_and_escapes(site):
    r = requests.get(site["landing"], timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    html = r.text
    assert "--cp-primary: #be123c;" in html and '--cp-font: "Georgia"' in html
    assert site["shown"]["id"] in html and "Secret draft" not in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "<b>Bold</b>" not in html
    assert re.search(r'<meta property="og:title" content="Studio &lt;b&gt;Bold&lt;/b&gt;">', html)
    assert '<meta property="og:image" content="https://cdn.example.com/logo.png">' in html
    assert f'<meta property="og:url" content="{site["landing"]}">' in html
    assert "$25.00" in html
    csp = r.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp


def test_etag_and_304(site):
    first = requests.get(site["landing"], timeout=10)
    etag = first.headers["ETag"]
    assert "max-age" in first.headers["Cache-Control"] and etag.startswith('"')
    again = requests.get(site["landing"], headers={"If-None-Match": etag}, timeout=10)
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    weak = requests.get(site["landing"], headers={"If-None-Match": f'"x", W/{etag}'}, timeout=10)
    assert weak.status_code == 304
    stale = requests.get(site["landing"], headers={"If-None-Match": '"other"'}, timeout=10)
    assert stale.status_code == 200 and stale.headers["ETag"] == etag


def test_etag_changes_when_the_content_does(site, admin):
    before = requests.get(site["landing"], timeout=10).headers["ETag"]
    admin.run("UPDATE courses SET title = 'Renamed' WHERE id = :c", c=site["shown"]["id"])
    after = requests.get(site["landing"], headers={"If-None-Match": before}, timeout=10)
    assert after.status_code == 200 and after.headers["ETag"] != before
    assert "Renamed" in after.text


def test_course_page_shows_outline_and_hides_drafts(site, gateway_url):
    base = site["landing"]
    r = requests.get(f"{base}/courses/{site['shown']['id']}", timeout=10)
    assert r.status_code == 200
    assert "Lesson 1" in r.text and "2:05" in r.text and "Lesson 2" in r.text
    assert '<meta property="og:type" content="product">' in r.text
    assert "&#34;light&#34; &amp; &lt;img" in r.text
    for path in (
        f"{base}/courses/{site['hidden']['id']}",
        f"{base}/courses/not-a-uuid",
        f"{gateway_url}/ch/no-such-channel-here",
        f"{gateway_url}/ch/BAD_SLUG",
    ):
        assert requests.get(path, timeout=10).status_code == 404, path
    other_owner = signup(gateway_url)
    other = make_channel(gateway_url, other_owner)
    # a course id of channel A under channel B's slug is not found
    r = requests.get(f"{gateway_url}/ch/{other['slug']}/courses/{site['shown']['id']}", timeout=10)
    assert r.status_code == 404


def test_empty_channel_has_a_page_too(gateway_url):
    ch = make_channel(gateway_url, signup(gateway_url))
    r = requests.get(f"{gateway_url}/ch/{ch['slug']}", timeout=10)
    assert r.status_code == 200 and "No courses published yet." in r.text
