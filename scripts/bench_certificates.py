"""Certificate figures for `make bench` (called by scripts/bench.py; needs no stack):

- render time per certificate PDF with the shipped template and fonts (weasyprint, the QR
  code, metadata), names in five scripts, CJK reported on its own (goal: median <= 50 ms);
  the first render of a process (font configuration, imports) is shown apart;
- credential signing (ES256 VC-JWT of an OB 3.0 credential) and verification (signature with
  the JWKS key, then the OB 3.0 schema) per second.

    BENCH_CERT_RENDERS=200 BENCH_CERT_SIGNS=2000 python -m scripts.bench_certificates
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RENDERS = int(os.environ.get("BENCH_CERT_RENDERS", "40"))
SIGNS = int(os.environ.get("BENCH_CERT_SIGNS", "400"))
NAMES = {
    "latin": "Zoë Åström-Ñúñez",
    "vietnamese": "Nguyễn Thị Ánh",
    "cyrillic": "Анна Кузнецова",
    "arabic": "محمد علي",
    "cjk": "王小明",
}
SCHEMA = (
    Path(__file__).resolve().parents[1]
    / "tests/unit/certificates/ob_v3p0_achievementcredential_schema.json"
)


def _ms(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {
        "median_ms": statistics.median(values) * 1000,
        "p95_ms": values[max(0, int(len(values) * 0.95) - 1)] * 1000,
    }


def renders() -> list[dict[str, Any]]:
    from shared.certificates import design, pdf

    html, css = design.default_html(), design.default_css()

    def one(name: str) -> float:
        ctx = design.context(
            {**design.SAMPLE, "holder_name": name, "course_title": "Kiến thức 基礎"},
            theme={"primary": "#4f46e5"},
            has_logo=False,
            has_signature=False,
        )
        start = time.perf_counter()
        pdf.render(html=html, css=css, ctx=ctx, images={})
        return time.perf_counter() - start

    first = one(NAMES["cjk"])
    times: dict[str, list[float]] = {k: [] for k in NAMES}
    scripts = list(NAMES)
    for i in range(RENDERS):
        script = scripts[i % len(scripts)]
        times[script].append(one(NAMES[script]))
    everything = [t for ts in times.values() for t in ts]
    rows = [
        {"what": "render: first in a process (fonts, imports)", "ms": first * 1000},
        {"what": f"render: all scripts, n={len(everything)}", **_ms(everything)},
        {"what": f"render: CJK name, n={len(times['cjk'])}", **_ms(times["cjk"])},
    ]
    for r in rows[1:]:
        r["goal"] = "<= 50 ms median"
    return rows


def credentials() -> list[dict[str, Any]]:
    import jsonschema
    import jwt

    from shared.certificates import keys, rules

    row = {
        "id": str(uuid.uuid4()),
        "channel_id": str(uuid.uuid4()),
        "status_index": 7,
        "course_id": str(uuid.uuid4()),
        "channel_slug": "bench",
        "channel_name": "Bench Academy",
        "course_title": "Kiến thức 基礎",
        "course_description": "",
        "subject_hash": rules.identity_hash("bench@example.com", "s"),
        "subject_salt": "s",
        "issued_at": datetime.now(UTC),
    }
    doc = rules.credential(row, base_url="https://learn.example")
    claims = rules.jwt_claims(doc, issued_at=row["issued_at"])
    start = time.perf_counter()
    tokens = [keys.sign(claims) for _ in range(SIGNS)]
    sign_s = time.perf_counter() - start
    jwk = keys.jwks()["keys"][0]
    key = jwt.PyJWK(jwk).key
    validator = jsonschema.Draft201909Validator(json.loads(SCHEMA.read_text()))
    start = time.perf_counter()
    for t in tokens:
        jwt.decode(t, key, algorithms=["ES256"])
    verify_s = time.perf_counter() - start
    start = time.perf_counter()
    for t in tokens:
        validator.validate(jwt.decode(t, key, algorithms=["ES256"])["vc"])
    full_s = time.perf_counter() - start
    return [
        {"what": f"credential: sign ES256 VC-JWT, n={SIGNS}", "per_s": SIGNS / sign_s},
        {"what": f"credential: verify signature (JWKS), n={SIGNS}", "per_s": SIGNS / verify_s},
        {"what": f"credential: verify + OB 3.0 schema, n={SIGNS}", "per_s": SIGNS / full_s},
    ]


def run() -> list[dict[str, Any]]:
    return renders() + credentials()


def fmt(rows: list[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        cells = [f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()]
        out.append("  ".join(cells))
    return "\n".join(out)


if __name__ == "__main__":
    print(fmt(run()))
