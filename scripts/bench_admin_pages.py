"""Staff page figures for `make bench` (issue 12, item 7: "the queue page for 10k open
flags"), called by scripts/bench.py in the same run, or alone:
`python scripts/bench_admin_pages.py` (on a private stack).

BENCH_ADMIN_FLAGS open flags (default 10,000) are written as the superuser on as many posts of
one channel (one flag each, by ten reporters, spread over the last 30 days); then a moderator
signs in through the staff login form, and BENCH_ADMIN_RUNS sequential GETs (default 40) of
`/ch/{slug}/admin/moderation` are timed: the page groups every open flag by target, renders the
oldest 50 with their forms and reads the bans. The JSON queue of the API is timed beside it.

    rows = run(gateway_url, env)     # env: the stack's environment (DB URLs, ...)
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FLAGS = int(os.environ.get("BENCH_ADMIN_FLAGS", "10000"))
RUNS = int(os.environ.get("BENCH_ADMIN_RUNS", "40"))
PASSWORD = "bench password 0123"

SEED_SQL = """
WITH p AS (
  INSERT INTO posts (id, channel_id, space_id, author_id, title, body, body_html, created_at)
  SELECT md5(:c || 'p' || i)::uuid, CAST(:c AS uuid), CAST(:s AS uuid),
         (CAST(:authors AS uuid[]))[1 + i % 10], 'Post ' || i,
         'Buy cheap things number ' || i || ' at a link', '<p>Buy cheap things</p>',
         now() - interval '30 days' + i * interval '1 second'
    FROM generate_series(1, :n) AS i
  RETURNING id, created_at)
INSERT INTO flags (id, channel_id, target_type, target_id, reporter_id, reason, created_at)
SELECT md5(p.id::text || 'f')::uuid, CAST(:c AS uuid), 'post', p.id,
       (CAST(:authors AS uuid[]))[1 + (abs(hashtext(p.id::text)) + 1) % 10],
       'spam', p.created_at + interval '1 minute'
  FROM p
"""


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def _signup(base: str, email: str) -> dict[str, Any]:
    r = requests.post(
        f"{base}/v1/auth/signup",
        json={"email": email, "password": PASSWORD, "display_name": email.split("@")[0]},
        timeout=30,
    )
    r.raise_for_status()
    body = r.json()
    return {
        "id": body["user"]["id"],
        "email": email,
        "h": {"Authorization": f"Bearer {body['access_token']}"},
    }


def _staff_cookie(base: str, slug: str, user: dict[str, Any]) -> str:
    """Sign in through the staff login form, as a browser does."""
    s = requests.Session()
    form = s.get(f"{base}/ch/{slug}/admin/login", timeout=10)
    form.raise_for_status()
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text[:300]
    r = s.post(
        f"{base}/ch/{slug}/admin/login",
        data={"csrf": token.group(1), "email": user["email"], "password": PASSWORD},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 303, (r.status_code, r.text[:300])
    return str(s.cookies.get("cp_staff"))


def _timed(url: str, **kw: Any) -> dict[str, Any]:
    times = []
    r = None
    for _ in range(RUNS):
        t = time.perf_counter()
        r = requests.get(url, timeout=60, **kw)
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    assert r is not None
    return {"p50": statistics.median(times), "p95": _p(times, 95), "resp": r}


def run(base: str, env: dict[str, str]) -> list[dict[str, Any]]:
    from shared.platform import db

    stamp = int(time.time() * 1000)
    owner = _signup(base, f"bench-admin{stamp}-owner@example.com")
    slug = f"bench-ad{stamp}"
    r = requests.post(
        f"{base}/v1/channels",
        headers=owner["h"],
        json={"slug": slug, "name": "Bench staff pages"},
        timeout=10,
    )
    r.raise_for_status()
    cid = r.json()["id"]
    c = f"{base}/v1/channels/{cid}"
    space = requests.post(f"{c}/spaces", json={"name": "General"}, headers=owner["h"], timeout=10)
    space.raise_for_status()
    members = [_signup(base, f"bench-admin{stamp}-{i}@example.com") for i in range(11)]
    for i, m in enumerate(members):
        add = requests.post(
            f"{c}/members",
            json={"email": m["email"], "role": "moderator" if i == 10 else "student"},
            headers=owner["h"],
            timeout=10,
        )
        add.raise_for_status()
    moderator, authors = members[10], members[:10]
    admin = db.connect(env.get("ADMIN_DATABASE_URL") or env["MIGRATION_DATABASE_URL"])
    try:
        t = time.perf_counter()
        admin.run(
            SEED_SQL,
            c=cid,
            s=space.json()["id"],
            authors="{" + ",".join(a["id"] for a in authors) + "}",
            n=FLAGS,
        )
        admin.run("ANALYZE posts")
        admin.run("ANALYZE flags")
        seed_s = time.perf_counter() - t
    finally:
        admin.close()
    cookie = _staff_cookie(base, slug, moderator)
    page = _timed(f"{base}/ch/{slug}/admin/moderation", cookies={"cp_staff": cookie})
    shown = page["resp"].text.count('class="item"')
    api = _timed(f"{c}/moderation/queue", headers=moderator["h"], params={"limit": 50})
    note = f"{FLAGS:,} open flags on {FLAGS:,} posts (seeded in {seed_s:.1f} s)"
    return [
        {
            "what": "GET /ch/{slug}/admin/moderation (HTML queue page)",
            "p50": page["p50"],
            "p95": page["p95"],
            "note": f"{note}; {shown} items rendered, {len(page['resp'].content):,} bytes",
        },
        {
            "what": "GET {c}/moderation/queue?limit=50 (JSON, same query)",
            "p50": api["p50"],
            "p95": api["p95"],
            "note": note,
        },
    ]


def main() -> None:
    from scripts.bench import _fmt, _free_port, start_gateway, stop
    from scripts.stack import Stack

    stack = Stack(profile="test")
    stack.start()
    try:
        env = {**os.environ, **stack.env, "RATE_LIMIT_SIGNUP_IP": "1000000000/60"}
        os.environ.update(stack.env)
        port = _free_port()
        gw = start_gateway([], env, port)
        try:
            print(_fmt(run(f"http://127.0.0.1:{port}", env)), flush=True)
        finally:
            stop(gw)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
