"""Public pages in headless Chromium (Debian's `chromium`, driven by playwright): the theme's
tokens reach the computed styles, injected markup stays inert, and a screenshot is kept."""

from __future__ import annotations

import shutil

import pytest

from tests.factories import make_course
from tests.helpers import make_channel, signup

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
THEME = {"primary": "#0f766e", "accent": "#facc15", "background": "#f8fafc", "font": "Georgia"}


@pytest.fixture(scope="session")
def browser():
    """One browser for the whole test session."""
    if not shutil.which(CHROMIUM):
        pytest.fail("chromium is missing: apt-get install -y chromium (scripts/install-system.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1100, "height": 700})
    pg = ctx.new_page()
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs
    yield pg
    ctx.close()


@pytest.fixture
def themed_channel(gateway_url, admin_db):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner, theme=THEME, name="Teal Studio")
    conn = admin_db()
    try:
        course = make_course(
            conn,
            ch["id"],
            owner.id,
            title="Colour grading <script>alert(1)</script>",
            description="<img src=x onerror=alert(2)> Grade it.",
            lessons=(("video", 300.0), ("text", None)),
        )
        make_course(
            conn, ch["id"], owner.id, title="Second course", lessons=(("text", None),), price=1500
        )
    finally:
        conn.close()
    return {"ch": ch, "course": course}


def _rgb(hex_colour: str) -> str:
    h = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(h[i : i + 2], 16) for i in (0, 2, 4)))


def test_landing_page_styles_come_from_the_theme(gateway_url, page, themed_channel, tmp_path):
    resp = page.goto(f"{gateway_url}/ch/{themed_channel['ch']['slug']}")
    assert resp.status == 200
    styles = page.evaluate("""() => {
        const cs = (sel) => getComputedStyle(document.querySelector(sel));
        return {
          header: cs('header.brand').backgroundColor,
          body: cs('body').backgroundColor,
          font: cs('body').fontFamily,
          price: cs('.price').backgroundColor,
          cardBorder: cs('.card').borderTopColor,
          primaryVar: getComputedStyle(document.documentElement)
                        .getPropertyValue('--cp-primary').trim(),
        };
    }""")
    assert styles["header"] == _rgb(THEME["primary"])
    assert styles["cardBorder"] == _rgb(THEME["primary"])
    assert styles["price"] == _rgb(THEME["accent"])
    assert styles["body"] == _rgb(THEME["background"])
    assert styles["font"].startswith("Georgia") or styles["font"].startswith('"Georgia"')
    assert styles["primaryVar"] == THEME["primary"]
    # creator text is shown as text, nothing ran
    titles = page.locator(".card h3 a").all_inner_texts()
    assert sorted(titles) == ["Colour grading <script>alert(1)</script>", "Second course"]
    assert page.dialogs == [] and page.locator("script").count() == 0
    assert page.locator(".card").count() == 2
    assert page.title() == "Teal Studio"
    og = page.locator('meta[property="og:title"]').get_attribute("content")
    assert og == "Teal Studio"

    shot = tmp_path / "landing.png"
    page.screenshot(path=str(shot), full_page=True)
    _assert_real_screenshot(shot, THEME["primary"])


def test_course_page_renders_in_the_browser(gateway_url, page, themed_channel, tmp_path):
    ch, course = themed_channel["ch"], themed_channel["course"]
    resp = page.goto(f"{gateway_url}/ch/{ch['slug']}/courses/{course['id']}")
    assert resp.status == 200
    assert (
        page.locator("article.course h2").inner_text() == "Colour grading <script>alert(1)</script>"
    )
    assert page.locator(".lessons li").count() == 2
    cta = page.evaluate("() => getComputedStyle(document.querySelector('.cta')).backgroundColor")
    assert cta == _rgb(THEME["primary"])
    assert page.dialogs == [] and page.locator("img[src='x']").count() == 0
    shot = tmp_path / "course.png"
    page.screenshot(path=str(shot), full_page=True)
    _assert_real_screenshot(shot, THEME["primary"])


def _assert_real_screenshot(path, primary: str) -> None:
    """Not blank: a sizeable PNG whose header band is painted in the theme's primary colour."""
    from PIL import Image

    assert path.stat().st_size > 5_000
    with Image.open(path) as img:
        assert img.width >= 1000 and img.height >= 300
        rgb = img.convert("RGB")
        want = tuple(int(primary.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
        assert rgb.getpixel((img.width - 10, 10)) == want  # header band, right edge
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 20  # text, cards, badges: not a flat image
