"""Serve the generated OpenAPI document and a self-contained HTML reference built from it."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from flask import Response

SPEC = Path(__file__).resolve().parents[1] / "openapi.json"

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ spec.info.title }}</title><meta name="viewport" content="width=device-width">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2rem auto;padding:0 1rem}
code,pre{font-family:ui-monospace,monospace}.op{border:1px solid #ddd;border-radius:6px;
margin:.6rem 0;padding:.5rem .8rem}.m{font-weight:700;text-transform:uppercase;width:4.5rem;
display:inline-block}.s{color:#555}details pre{background:#f6f6f6;padding:.5rem;overflow:auto}
</style></head><body><h1>{{ spec.info.title }} <small>{{ spec.info.version }}</small></h1>
<p>{{ spec.info.description }}</p><p>Machine-readable: <a href="/v1/openapi.json">
/v1/openapi.json</a></p>
{% for tag, ops in groups %}<h2>{{ tag }}</h2>{% for path, method, op in ops %}
<div class="op"><span class="m">{{ method }}</span><code>{{ path }}</code>
<span class="s"> — {{ op.summary }}</span>
<div>Answers: {% for code, r in op.responses.items() %}<code>{{ code }}</code>
{{ r.description }}{% if not loop.last %}; {% endif %}{% endfor %}</div>
{% if op.requestBody %}<details><summary>Request body</summary>
<pre>{{ op.requestBody | tojson(indent=2) }}</pre></details>{% endif %}</div>
{% endfor %}{% endfor %}
<h2>Schemas</h2>{% for name, s in spec.components.schemas.items() %}
<details id="{{ name }}"><summary><code>{{ name }}</code></summary>
<pre>{{ s | tojson(indent=2) }}</pre></details>{% endfor %}</body></html>"""


@lru_cache(maxsize=1)
def _spec_bytes() -> tuple[bytes, str]:
    raw = SPEC.read_bytes()
    return raw, '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'


def openapi_response() -> Response:
    raw, etag = _spec_bytes()
    resp = Response(raw, content_type="application/json")
    resp.headers.update({"ETag": etag, "Cache-Control": "public, max-age=300"})
    return resp


@lru_cache(maxsize=1)
def _docs_html() -> str:
    from jinja2 import Environment

    spec = json.loads(_spec_bytes()[0])
    groups: dict[str, list] = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            groups.setdefault(op["tags"][0], []).append((path, method, op))
    env = Environment(autoescape=True)
    return env.from_string(_PAGE).render(spec=spec, groups=sorted(groups.items()))


def docs_response() -> Response:
    resp = Response(_docs_html(), content_type="text/html; charset=utf-8")
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp
