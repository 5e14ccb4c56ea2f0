"""Serve the generated OpenAPI document and the interactive reference (Swagger UI) built on it.

The reference is one self-contained page: Swagger UI's stylesheet and script come from the
`swagger-ui-py` distribution installed with the function (no CDN at run time) and are inlined,
so `/v1/docs` needs no other route. Its Content-Security-Policy allows exactly those inline
scripts (by hash) and requests to this origin only: the page cannot load anything from
elsewhere, and Swagger UI's online validator badge is off.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

from flask import Response

SPEC = Path(__file__).resolve().parents[1] / "openapi.json"
SPEC_URL = "/v1/openapi.json"

# Swagger UI's options (https://swagger.io/docs/open-source-tools/swagger-ui/usage/configuration/)
UI_OPTIONS = {
    "url": SPEC_URL,
    "dom_id": "#swagger-ui",
    "deepLinking": True,
    "docExpansion": "list",  # tags open, operations folded
    "defaultModelsExpandDepth": 0,
    "displayRequestDuration": True,
    "persistAuthorization": True,  # the bearer token survives a reload (this browser only)
    "tryItOutEnabled": False,
    "validatorUrl": None,  # no call to the public validator service
}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title} — API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<style>{css}</style>
<style>body{{margin:0}} .swagger-ui .topbar{{display:none}}</style>
</head><body>
<noscript>This reference needs JavaScript; the document itself is at
<a href="{spec_url}">{spec_url}</a>.</noscript>
<div id="swagger-ui"></div>
<script>{bundle}</script>
<script>{init}</script>
</body></html>
"""


@lru_cache(maxsize=1)
def _spec_bytes() -> tuple[bytes, str]:
    raw = SPEC.read_bytes()
    return raw, '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'


def openapi_response() -> Response:
    raw, etag = _spec_bytes()
    resp = Response(raw, content_type="application/json")
    resp.headers.update({"ETag": etag, "Cache-Control": "public, max-age=300"})
    return resp


def swagger_ui_dir() -> Path:
    """Swagger UI's distribution files, as the `swagger-ui-py` package ships them."""
    import swagger_ui  # the dependency is declared by this import (scripts/package.py)

    return Path(swagger_ui.__file__).resolve().parent / "static"


def _csp_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


_SOURCE_MAP = re.compile(r"\n?(?://|/\*)# sourceMappingURL=[^\n]*\s*$")


def _strip_source_map(text: str) -> str:
    """Without its trailing source map comment (a browser would fetch the map)."""
    return _SOURCE_MAP.sub("", text)


@lru_cache(maxsize=1)
def _docs_page() -> tuple[str, str]:
    """The page and its Content-Security-Policy."""
    static = swagger_ui_dir()
    bundle = _strip_source_map((static / "swagger-ui-bundle.js").read_text(encoding="utf-8"))
    # `<!--` in a <script> would switch the HTML parser to its "escaped" state; the bundle has
    # it only in regular expressions (no `u` flag), where `<\!--` matches the same text.
    bundle = bundle.replace("<!--", "<\\!--")
    css = _strip_source_map((static / "swagger-ui.css").read_text(encoding="utf-8"))
    options = json.dumps(UI_OPTIONS)
    init = (
        f"window.ui = SwaggerUIBundle(Object.assign({options}, "
        "{presets: [SwaggerUIBundle.presets.apis], layout: 'BaseLayout'}));"
    )
    for text in (bundle, init, css):
        if any(tag in text.lower() for tag in ("</script", "</style", "<!--")):
            raise ValueError("Swagger UI's files cannot be inlined as they are")
    title = json.loads(_spec_bytes()[0])["info"]["title"]
    page = _PAGE.format(
        title=title.replace("<", "&lt;"), css=css, bundle=bundle, init=init, spec_url=SPEC_URL
    )
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_csp_hash(bundle)} {_csp_hash(init)}",
            "style-src 'unsafe-inline'",  # Swagger UI sets inline styles itself
            "img-src 'self' data:",
            "connect-src 'self'",  # the document and "try it" calls, this origin only
            "font-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return page, csp


def docs_response() -> Response:
    page, csp = _docs_page()
    resp = Response(page, content_type="text/html; charset=utf-8")
    resp.headers["Cache-Control"] = "public, max-age=300"
    resp.headers["Content-Security-Policy"] = csp
    return resp
