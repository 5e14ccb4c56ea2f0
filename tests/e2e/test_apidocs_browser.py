"""/v1/docs in headless Chromium (Debian's `chromium`, driven by playwright): Swagger UI loads
from the function alone, lists the document's tags, shows the example bodies, and "try it"
calls the API with the bearer token entered in its Authorize dialog."""

from __future__ import annotations

import shutil

import pytest
import requests

from tests.helpers import signup

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
def docs(browser, gateway_url):
    """The reference, loaded, with every request and console error it caused."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.requested = []
    page.errors = []
    page.on("request", lambda r: page.requested.append(r.url))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    resp = page.goto(f"{gateway_url}/v1/docs")
    assert resp.status == 200
    page.wait_for_selector("h3.opblock-tag", timeout=20_000)
    yield page
    ctx.close()


def test_the_reference_lists_the_tags_and_loads_nothing_from_elsewhere(docs, gateway_url):
    spec = requests.get(f"{gateway_url}/v1/openapi.json", timeout=10).json()
    shown = [h.get_attribute("data-tag") for h in docs.locator("h3.opblock-tag").all()]
    assert shown == [t["name"] for t in spec["tags"]]
    ops = docs.locator("#operations-Courses-create_course")
    assert ops.count() == 1
    foreign = [u for u in docs.requested if not u.startswith((f"{gateway_url}/", "data:"))]
    assert foreign == []
    assert f"{gateway_url}/v1/openapi.json" in docs.requested
    assert docs.errors == []


def test_example_body_is_prefilled(docs):
    docs.locator("#operations-Courses-create_course .opblock-summary").click()
    example = docs.locator("#operations-Courses-create_course .body-param__example")
    example.wait_for(timeout=10_000)
    assert "Analytical Engines 101" in example.inner_text()


def test_try_it_out_with_the_bearer_token(docs, gateway_url, tmp_path):
    user = signup(gateway_url, name="Docs Reader")
    docs.locator("button.authorize").first.click()
    docs.locator(".modal-ux input").first.fill(user.token)
    docs.locator(".modal-ux button.authorize").click()
    docs.locator(".modal-ux button.btn-done").click()

    me = docs.locator("#operations-Identity-me")
    me.locator(".opblock-summary").click()
    me.locator("button.try-out__btn").click()
    me.locator("button.execute").click()
    status = me.locator(".live-responses-table .response .response-col_status").first
    status.wait_for(timeout=15_000)
    assert status.inner_text().strip().startswith("200")
    assert "Docs Reader" in me.locator(".live-responses-table .microlight").first.inner_text()
    assert docs.errors == []
    docs.screenshot(path=str(tmp_path / "docs.png"), full_page=False)
    assert (tmp_path / "docs.png").stat().st_size > 10_000
