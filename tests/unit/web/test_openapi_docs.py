"""GET /v1/docs: Swagger UI from the installed package, inlined, locked to this origin."""

import base64
import hashlib
import json
import re

from shared.web.apidocs import UI_OPTIONS, docs_response, openapi_response, swagger_ui_dir


def page_and_csp():
    resp = docs_response()
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    return resp.get_data(as_text=True), resp.headers["Content-Security-Policy"]


def test_swagger_ui_comes_from_the_installed_package_and_supports_openapi_31():
    bundle = (swagger_ui_dir() / "swagger-ui-bundle.js").read_text(encoding="utf-8")
    assert "SwaggerUIBundle" in bundle
    assert "https://spec.openapis.org/oas/3.1/dialect/base" in bundle  # Swagger UI 5


def test_the_page_loads_nothing_but_itself():
    page, _ = page_and_csp()
    assert not re.search(r"<(script|link|img|iframe)[^>]*\b(src|href)=\"(?!data:)", page, re.I)
    assert "sourceMappingURL" not in page
    assert '"validatorUrl": null' in page


def test_the_csp_allows_exactly_the_inline_scripts_and_this_origin():
    page, csp = page_and_csp()
    policy = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["connect-src"] == "'self'"
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 2
    hashes = {
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in scripts
    }
    assert set(policy["script-src"].split()) == hashes


def test_the_ui_reads_the_served_document_and_keeps_the_bearer_token():
    page, _ = page_and_csp()
    assert json.dumps(UI_OPTIONS) in page
    assert UI_OPTIONS["url"] == "/v1/openapi.json"
    assert UI_OPTIONS["persistAuthorization"] is True
    spec = json.loads(openapi_response().get_data())
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
