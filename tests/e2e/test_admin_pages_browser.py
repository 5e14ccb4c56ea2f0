"""Staff pages in headless Chromium (Debian's `chromium`, driven by playwright): sign in
through the form, remove a flagged post from the queue by clicking, and the analytics
dashboard's charts compared pixel by pixel with a committed reference image.

The reference (tests/fixtures/admin_pages/watch_chart.png) is the chart of a fixed, seeded
period; after an intended change of the chart's drawing, write it again with
`ADMIN_PAGES_WRITE_REFERENCE=1` and look at it before committing."""

from __future__ import annotations

import json
import os
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests

from tests.helpers import make_channel, member_of, signup

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
    "--font-render-hinting=none",
]
REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "admin_pages" / "watch_chart.png"
FIRST_DAY = date(2026, 1, 1)
DAYS = 14
# watch minutes per day of the seeded period: a shape a broken scale or bar would change
MINUTES = [12, 30, 45, 20, 0, 5, 60, 75, 40, 33, 18, 90, 10, 50]


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail("chromium is missing: apt-get install -y chromium (scripts/install-system.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1100, "height": 800}, device_scale_factor=1)
    pg = ctx.new_page()
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs
    yield pg
    ctx.close()


def sign_in(page, gw: str, slug: str, user, next_page: str = "moderation") -> None:
    page.goto(f"{gw}/ch/{slug}/admin/{next_page}")  # no session: sent to the form
    assert "/admin/login" in page.url
    page.fill("#email", user.email)
    page.fill("#password", user.password)
    page.click("button[type=submit]:has-text('Sign in')")
    page.wait_for_url(f"**/ch/{slug}/admin/{next_page}")


def test_a_moderator_signs_in_and_removes_a_flagged_post(gateway_url, page):
    gw = gateway_url
    owner = signup(gw, name="Owner")
    ch = make_channel(gw, owner, name="Browser Moderation")
    cid = ch["id"]
    space = requests.post(
        f"{gw}/v1/channels/{cid}/spaces",
        json={"name": "General"},
        headers=owner.headers,
        timeout=10,
    ).json()["id"]
    author = member_of(gw, cid, owner, "student")
    post = requests.post(
        f"{gw}/v1/channels/{cid}/spaces/{space}/posts",
        json={"body": "Totally legit <img src=x onerror=alert(1)> offer"},
        headers=author.headers,
        timeout=10,
    ).json()["id"]
    reporter = member_of(gw, cid, owner, "student")
    r = requests.post(
        f"{gw}/v1/channels/{cid}/posts/{post}/flags",
        json={"reason": "spam"},
        headers=reporter.headers,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    moderator = member_of(gw, cid, owner, "moderator")

    sign_in(page, gw, ch["slug"], moderator)
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["cp_staff"]["httpOnly"] is True
    assert cookies["cp_staff"]["sameSite"] == "Strict"
    assert cookies["cp_staff"]["path"] == f"/ch/{ch['slug']}/admin"
    assert page.evaluate("() => document.cookie") == ""  # no script can read the session

    item = page.locator(f"#item-{post}")
    assert item.is_visible()
    assert "Totally legit" in item.locator(".excerpt").inner_text()
    assert item.locator(".flag-count").inner_text() == "1 flag"
    assert "spam" in item.locator("table.reports").inner_text()
    assert page.locator("img[src='x']").count() == 0 and page.dialogs == []

    item.locator("#reason-" + post).fill("spam offer")
    item.locator("button[value=remove]").click()
    page.wait_for_url("**/admin/moderation?done=remove")
    assert page.locator(".notice").inner_text() == "Removed."
    assert page.locator(f"#item-{post}").count() == 0
    assert page.locator("#queue-empty").is_visible()
    # the post is gone for the members, through the API
    gone = requests.get(f"{gw}/v1/channels/{cid}/posts/{post}", headers=author.headers, timeout=10)
    assert gone.status_code == 404
    listed = requests.get(
        f"{gw}/v1/channels/{cid}/spaces/{space}/posts", headers=reporter.headers, timeout=10
    ).json()["items"]
    assert post not in [p["id"] for p in listed]

    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/admin/login")
    assert "cp_staff" not in {c["name"] for c in page.context.cookies()}


@pytest.fixture
def seeded(gateway_url, admin_db):
    """A channel with fixed watch time, lesson and course completions over 14 days."""
    owner = signup(gateway_url, name="Dashboard Owner")
    ch = make_channel(gateway_url, owner, name="Dashboard Studio")
    conn = admin_db()
    try:
        for i, minutes in enumerate(MINUTES):
            day = FIRST_DAY + timedelta(days=i)
            at = f"{day.isoformat()}T12:00:00Z"
            conn.run(
                "INSERT INTO analytics_events (channel_id, user_id, event_type, metadata,"
                " occurred_at) VALUES (:c, :u, 'lesson.heartbeat', CAST(:m AS jsonb),"
                " CAST(:t AS timestamptz))",
                c=ch["id"],
                u=owner.id,
                m=json.dumps({"watch_seconds": minutes * 60}),
                t=at,
            )
            for _ in range(i % 4):
                conn.run(
                    "INSERT INTO analytics_events (channel_id, user_id, event_type, metadata,"
                    " occurred_at) VALUES (:c, :u, 'lesson.completed', '{}', CAST(:t AS"
                    " timestamptz))",
                    c=ch["id"],
                    u=owner.id,
                    t=at,
                )
        # the rollups of these past days (the summary reads rollups for settled UTC days)
        for i in range(DAYS):
            conn.run(
                "SELECT analytics_rollup_day(CAST(:d AS date), coalesce("
                "analytics_settled_until(), now()))",
                d=(FIRST_DAY + timedelta(days=i)).isoformat(),
            )
    finally:
        conn.close()
    return {"ch": ch, "owner": owner}


def test_the_dashboard_draws_its_charts_like_the_reference(gateway_url, page, seeded, tmp_path):
    slug = seeded["ch"]["slug"]
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    sign_in(page, gateway_url, slug, seeded["owner"], next_page="analytics")
    page.fill("#from", FIRST_DAY.isoformat())
    page.fill("#to", last.isoformat())
    page.click("button:has-text('Show')")
    page.wait_for_url("**/admin/analytics?from=*")
    assert page.locator("svg.chart").count() == 4
    assert page.locator("#kpi-watch").inner_text() == f"{float(sum(MINUTES))} min"
    assert page.locator("#kpi-lessons").inner_text() == str(sum(i % 4 for i in range(DAYS)))
    chart = page.locator("#watch-minutes")
    assert chart.get_attribute("role") == "img"
    assert page.locator("#watch-minutes-title").inner_html() == "Watch time per day"
    heights = page.eval_on_selector_all(
        "#watch-minutes rect.bar", "els => els.map(e => e.getBBox().height)"
    )
    assert len(heights) == DAYS
    tallest = max(heights)
    for h, m in zip(heights, MINUTES, strict=True):  # bars in proportion to the minutes
        assert h == pytest.approx(tallest * m / max(MINUTES), abs=0.6)
    assert page.dialogs == [] and page.locator("script").count() == 0

    shot = tmp_path / "watch_chart.png"
    page.locator("#card-watch-minutes svg").screenshot(path=str(shot))
    if os.environ.get("ADMIN_PAGES_WRITE_REFERENCE") == "1":
        REFERENCE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, REFERENCE)
    _assert_like_reference(shot, REFERENCE)

    full = tmp_path / "dashboard.png"
    page.screenshot(path=str(full), full_page=True)
    _assert_not_blank(full)


def _assert_like_reference(path: Path, reference: Path) -> None:
    """Same size, and nearly every pixel within a small tolerance of the reference (text
    antialiasing may differ slightly; a moved bar, a wrong scale or a missing axis does not)."""
    from PIL import Image, ImageChops

    with Image.open(path) as got_img, Image.open(reference) as ref_img:
        got, ref = got_img.convert("RGB"), ref_img.convert("RGB")
        assert got.size == ref.size, (got.size, ref.size)
        diff = ImageChops.difference(got, ref).convert("L")
        hist = diff.histogram()
        total = got.width * got.height
        off = sum(hist[40:])  # pixels that differ visibly
        mean = sum(i * n for i, n in enumerate(hist)) / total
        assert off / total < 0.005, f"{off} of {total} pixels differ from the reference"
        assert mean < 2.0, mean
        # and the reference itself is a real chart: bars in the chart colour cover a share
        colours = dict((c, n) for n, c in ref.getcolors(maxcolors=1 << 20) or [])
        assert colours.get((0x4F, 0x46, 0xE5), 0) > total * 0.05


def _assert_not_blank(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as img:
        rgb = img.convert("RGB")
        assert img.width >= 1000 and img.height >= 800
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 50
        palette = {c for _, c in colours}
        for bar in ((0x4F, 0x46, 0xE5), (0xB4, 0x53, 0x09)):
            assert bar in palette, bar  # the watch time and lesson completion bars painted
