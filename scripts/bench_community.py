"""Community figures for `make bench` (issue 12, item 7), or alone:
`python scripts/bench_community.py` (on a private stack).

Posting latency through the gateway: BENCH_COMMUNITY_POSTS posts (default 400) written by
BENCH_COMMUNITY_CLIENTS concurrent clients (default 4), each a Markdown body with a mention
(render + sanitise, visibility and ban checks, spam rules, rate limit, the insert, its audit row
and outbox event, a notification with its own event, and the publish after commit); then as
many comments on those posts (each tells the post's author). Members post at most 10 each
(the per-member limit), so the bench signs up posts/10 members.

    rows = run(gateway_url, env)     # env: the stack's environment (DB URLs, ...)
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
POSTS = int(os.environ.get("BENCH_COMMUNITY_POSTS", "400"))
CLIENTS = int(os.environ.get("BENCH_COMMUNITY_CLIENTS", "4"))
PER_MEMBER = 10  # shared.community.rules.RATE_LIMITS["post"]: 10 per 10 minutes


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def _signup(base: str, stamp: int, i: int) -> dict[str, Any]:
    r = requests.post(
        f"{base}/v1/auth/signup",
        json={
            "email": f"bench-community{stamp}-{i}@example.com",
            "password": "bench password 0123",
            "display_name": f"Member {i}",
        },
        timeout=30,
    )
    r.raise_for_status()
    body = r.json()
    return {"id": body["user"]["id"], "h": {"Authorization": f"Bearer {body['access_token']}"}}


def _timed(calls: list[tuple[str, dict[str, str], dict[str, Any] | None]]) -> dict[str, Any]:
    def one(call: tuple[str, dict[str, str], dict[str, Any] | None]) -> tuple[float, int, str]:
        url, headers, body = call
        t = time.perf_counter()
        if body is None:  # the reference GET
            r = requests.get(url, headers=headers, timeout=60)
        else:
            r = requests.post(url, json=body, headers=headers, timeout=60)
        ms = (time.perf_counter() - t) * 1000
        return ms, r.status_code, (r.json().get("id", "") if r.status_code == 201 else "")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        got = list(pool.map(one, calls))
    wall = time.perf_counter() - started
    times = [g[0] for g in got]
    return {
        "p50": statistics.median(times),
        "p95": _p(times, 95),
        "p99": _p(times, 99),
        "rps": len(got) / wall,
        "non2xx": sum(1 for g in got if g[1] >= 300),
        "ids": [g[2] for g in got if g[2]],
    }


def run(base: str, env: dict[str, str]) -> list[dict[str, Any]]:
    stamp = int(time.time() * 1000)
    owner = _signup(base, stamp, 0)
    r = requests.post(
        f"{base}/v1/channels",
        headers=owner["h"],
        json={"slug": f"bench-co{stamp}", "name": "Bench community"},
        timeout=10,
    )
    r.raise_for_status()
    cid = r.json()["id"]
    c = f"{base}/v1/channels/{cid}"
    space = requests.post(f"{c}/spaces", json={"name": "General"}, headers=owner["h"], timeout=10)
    space.raise_for_status()
    with ThreadPoolExecutor(max_workers=4) as pool:
        members = list(
            pool.map(lambda i: _signup(base, stamp, i), range(1, math.ceil(POSTS / PER_MEMBER) + 1))
        )
    for m in members:
        add = requests.post(
            f"{c}/members",
            json={
                "email": f"bench-community{stamp}-{members.index(m) + 1}@example.com",
                "role": "student",
            },
            headers=owner["h"],
            timeout=10,
        )
        add.raise_for_status()
    body = (
        "## A question about lesson {i}\n\nHow do I **solve** exercise {i}? "
        f"@[Owner]({owner['id']}) any hint?\n\n- tried `x = {{i}}`\n- and *this*"
    )
    posts = _timed(
        [
            (
                f"{c}/spaces/{space.json()['id']}/posts",
                members[i % len(members)]["h"],
                {"title": f"Q{i}", "body": body.format(i=i)},
            )
            for i in range(POSTS)
        ]
    )
    comments = _timed(
        [
            (
                f"{c}/posts/{pid}/comments",
                members[(i + 1) % len(members)]["h"],
                {"body": f"Try the hint in lesson {i}."},
            )
            for i, pid in enumerate(posts["ids"])
        ]
    )
    # The same clients on GET /v1/me: a reference taken under the same machine load.
    me = _timed([(f"{base}/v1/me", members[i % len(members)]["h"], None) for i in range(POSTS)])
    note = f"{len(members)} members, {CLIENTS} concurrent clients"
    return [
        {"what": f"POST community post x{POSTS} (Markdown + mention)", **_row(posts), "note": note},
        {
            "what": f"POST community comment x{len(posts['ids'])} (notifies)",
            **_row(comments),
            "note": note,
        },
        {"what": f"GET /v1/me x{POSTS} (reference, same clients)", **_row(me), "note": note},
    ]


def _row(r: dict[str, Any]) -> dict[str, Any]:
    return {k: r[k] for k in ("p50", "p95", "p99", "rps", "non2xx")}


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
