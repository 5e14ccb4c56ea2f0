"""Realtime figures for `make bench` (issue 12, item 7: posting with the projection on), or
alone: `python scripts/bench_realtime.py` (on a private stack).

1. Posting through the gateway with the Firestore projection on: BENCH_REALTIME_POSTS posts
   (default 200) by BENCH_REALTIME_CLIENTS concurrent clients (default 4), each committing its
   outbox event that the community_projection function then writes to Firestore. A Firestore
   listener (on_snapshot, as a browser client subscribes) on the space's posts records when
   each post arrives: the row "post -> subscriber" is the time from the 201 to the snapshot.
2. The consumer alone, in process against the emulator: post events of distinct documents
   (the usual case) and reaction-count events that all hit one post (the contended case:
   optimistic retries on one versions record).

    rows = run(gateway_url, env)     # env: the stack's environment
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
POSTS = int(os.environ.get("BENCH_REALTIME_POSTS", "200"))
CLIENTS = int(os.environ.get("BENCH_REALTIME_CLIENTS", "4"))
EVENTS = int(os.environ.get("BENCH_REALTIME_EVENTS", "300"))
PER_MEMBER = 10  # shared.community.rules.RATE_LIMITS["post"]: 10 per 10 minutes
LAG_TIMEOUT = 60.0


def _p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def _stats(times_ms: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(times_ms), "p95": _p(times_ms, 95), "p99": _p(times_ms, 99)}


def _signup(base: str, email: str, name: str) -> dict[str, Any]:
    r = requests.post(f"{base}/v1/auth/signup", timeout=30,
                      json={"email": email, "password": "bench password 0123",
                            "display_name": name})  # fmt: skip
    r.raise_for_status()
    body = r.json()
    return {"id": body["user"]["id"], "email": email,
            "h": {"Authorization": f"Bearer {body['access_token']}"}}  # fmt: skip


def _school(base: str, members: int) -> tuple[str, str, list[dict[str, Any]]]:
    stamp = uuid.uuid4().hex[:10]
    owner = _signup(base, f"bench-rt-{stamp}-0@example.com", "Owner")
    r = requests.post(f"{base}/v1/channels", headers=owner["h"], timeout=10,
                      json={"slug": f"bench-rt{stamp}", "name": "Bench realtime"})  # fmt: skip
    r.raise_for_status()
    cid = r.json()["id"]
    c = f"{base}/v1/channels/{cid}"
    space = requests.post(f"{c}/spaces", json={"name": "General"}, headers=owner["h"], timeout=10)
    space.raise_for_status()
    with ThreadPoolExecutor(max_workers=4) as pool:
        people = list(pool.map(
            lambda i: _signup(base, f"bench-rt-{stamp}-{i}@example.com", f"Member {i}"),
            range(1, members + 1)))  # fmt: skip
    for m in people:
        add = requests.post(f"{c}/members", json={"email": m["email"], "role": "student"},
                            headers=owner["h"], timeout=10)  # fmt: skip
        add.raise_for_status()
    return cid, space.json()["id"], people


def posting_with_projection(base: str, project: str) -> list[dict[str, Any]]:
    from google.cloud import firestore

    cid, space, members = _school(base, math.ceil(POSTS / PER_MEMBER))
    db = firestore.Client(project=project)
    arrived: dict[str, float] = {}
    lock = threading.Lock()

    def on_change(_docs: Any, changes: Any, _read_at: Any) -> None:
        now = time.perf_counter()
        with lock:
            for ch in changes:
                arrived.setdefault(ch.document.id, now)

    watch = db.collection(f"channels/{cid}/spaces/{space}/posts").on_snapshot(on_change)
    answered: dict[str, float] = {}

    def post(i: int) -> tuple[float, int]:
        m = members[i % len(members)]
        t = time.perf_counter()
        r = requests.post(f"{base}/v1/channels/{cid}/spaces/{space}/posts", headers=m["h"],
                          json={"title": f"Q{i}", "body": f"How do I **solve** exercise {i}?"},
                          timeout=60)  # fmt: skip
        done = time.perf_counter()
        if r.status_code == 201:
            answered[r.json()["id"]] = done
        return (done - t) * 1000, r.status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        got = list(pool.map(post, range(POSTS)))
    wall = time.perf_counter() - started
    deadline = time.monotonic() + LAG_TIMEOUT
    while time.monotonic() < deadline:
        with lock:
            if all(pid in arrived for pid in answered):
                break
        time.sleep(0.1)
    watch.unsubscribe()
    db.close()
    with lock:
        lags = [(arrived[p] - t) * 1000 for p, t in answered.items() if p in arrived]
    missing = len(answered) - len(lags)
    note = f"{len(members)} members, {CLIENTS} concurrent clients"
    rows = [{"what": f"POST community post x{POSTS}, projection on", **_stats([g[0] for g in got]),
             "rps": len(got) / wall, "non2xx": sum(1 for g in got if g[1] >= 300),
             "note": note}]  # fmt: skip
    if lags:
        note = f"{missing} not seen in {LAG_TIMEOUT:.0f}s"
        what = "post -> Firestore subscriber (201 to on_snapshot)"
        rows.append({"what": what, **_stats(lags), "non2xx": missing, "note": note})
    return rows


def consumer_alone() -> list[dict[str, Any]]:
    from shared import realtime

    def envelope(kind: str, c: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), "type": kind, "channel_id": c,
                "occurred_at": "2026-11-30T00:00:00+00:00", "data": data}  # fmt: skip

    c, s, hot = (str(uuid.uuid4()) for _ in range(3))
    posts = [envelope("post.created", c, {
        "space_id": s, "post_id": str(uuid.uuid4()), "version": 1, "title": "t",
        "body_html": "<p>x</p>", "author": {"user_id": c}, "pinned": False,
    }) for _ in range(EVENTS)]  # fmt: skip
    reactions = [envelope("reaction.created", c, {
        "space_id": s, "post_id": hot, "user_id": c, "kind": "like",
        "counts": {"like": v}, "version": v,
    }) for v in range(1, EVENTS + 1)]  # fmt: skip
    rows = []
    for what, events in (("distinct posts", posts), ("reaction counts of ONE post", reactions)):

        def one(e: dict[str, Any]) -> float:
            t = time.perf_counter()
            realtime.on_domain_event(envelope=e, attributes={"channel_id": c})
            return (time.perf_counter() - t) * 1000

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            times = list(pool.map(one, events))
        wall = time.perf_counter() - started
        label = f"projection consumer, {what} x{len(events)}"
        note = f"{CLIENTS} threads, in process"
        rows.append({"what": label, **_stats(times), "rps": len(events) / wall, "note": note})
    return rows


def run(base: str, env: dict[str, str]) -> list[dict[str, Any]]:
    os.environ["FIRESTORE_EMULATOR_HOST"] = env["FIRESTORE_EMULATOR_HOST"]  # the client reads it
    project = env.get("GCP_PROJECT", "local-project")
    return posting_with_projection(base, project) + consumer_alone()


def main() -> None:
    from scripts.bench import _fmt, _free_port, start_gateway, stop
    from scripts.stack import Stack

    stack = Stack(profile="test")
    stack.start()
    try:
        # The bench signs up its members from one address: lift that limit for its gateway.
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
