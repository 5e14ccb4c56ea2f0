"""Webhook fan-out figures for `make bench` (issue 15 item 7): deliveries per second from
domain events to a receiver on 127.0.0.1, through the whole local path (outbox -> Pub/Sub
emulator push -> webhook_fanout -> Cloud Tasks emulator -> webhook_delivery -> signed POST).

A channel registers BENCH_WEBHOOK_ENDPOINTS endpoints (default 5) for `member.added`; its owner
adds BENCH_WEBHOOK_EVENTS members (default 100) over HTTP, one request each; the figure is the
deliveries received per second from the first request to the last delivery. The queue's own
dispatch rate (resources.yaml webhook-deliveries max_dispatches_per_second) bounds it.

    rows = run(base, env)      # base: the gateway URL; env: the stack's environment
    python scripts/bench_webhooks.py   # alone, on a private stack
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EVENTS = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "100"))
ENDPOINTS = int(os.environ.get("BENCH_WEBHOOK_ENDPOINTS", "5"))
TIMEOUT = float(os.environ.get("BENCH_WEBHOOK_TIMEOUT", "300"))


def _receiver() -> tuple[ThreadingHTTPServer, list[float]]:
    arrivals: list[float] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                arrivals.append(time.perf_counter())
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, arrivals


def run(base: str, env: dict[str, str]) -> list[dict[str, Any]]:
    from scripts.stack import pg_connect

    stamp = int(time.time() * 1000)
    r = requests.post(
        f"{base}/v1/auth/signup",
        json={
            "email": f"bench-webhooks{stamp}@example.com",
            "password": "bench password 0123",
            "display_name": "Bench webhooks",
        },
        timeout=10,
    )
    r.raise_for_status()
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    r = requests.post(
        f"{base}/v1/channels",
        headers=auth,
        timeout=10,
        json={"slug": f"bench-wh{stamp}", "name": "Bench webhooks"},
    )
    r.raise_for_status()
    cid = r.json()["id"]
    server, arrivals = _receiver()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        for i in range(ENDPOINTS):
            r = requests.post(
                f"{base}/v1/channels/{cid}/webhook-endpoints",
                headers=auth,
                json={"url": f"{url}/hook{i}", "events": ["member.added"]},
                timeout=10,
            )
            r.raise_for_status()
        # members exist as accounts already (no password hashing in the timed part)
        emails = [f"bench-wh-{stamp}-{i}@example.com" for i in range(EVENTS)]
        admin = pg_connect(env.get("ADMIN_DATABASE_URL") or env["MIGRATION_DATABASE_URL"])
        try:
            for e in emails:
                admin.run(
                    "INSERT INTO users (id, email, display_name) VALUES (:i, :e, 'M')",
                    i=str(uuid.uuid4()),
                    e=e,
                )
        finally:
            admin.close()
        expected = EVENTS * ENDPOINTS
        t0 = time.perf_counter()
        for e in emails:
            r = requests.post(
                f"{base}/v1/channels/{cid}/members",
                headers=auth,
                timeout=10,
                json={"email": e, "role": "student"},
            )
            r.raise_for_status()
        sent = time.perf_counter() - t0
        deadline = t0 + TIMEOUT
        while len(arrivals) < expected and time.perf_counter() < deadline:
            time.sleep(0.05)  # a bench's own wait: the arrivals are what is measured
        got = len(arrivals)
        elapsed = (max(arrivals) if arrivals else time.perf_counter()) - t0
    finally:
        server.shutdown()
        server.server_close()
    return [
        {
            "what": f"webhook fan-out: {EVENTS} events x {ENDPOINTS} endpoints",
            "delivered": got,
            "expected": expected,
            "seconds": elapsed,
            "per_s": got / elapsed if elapsed else 0.0,
            "events_sent_s": sent,
        }
    ]


def fmt(rows: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{r['what']:<50} {r['delivered']}/{r['expected']} delivered in {r['seconds']:6.1f} s"
        f"  = {r['per_s']:6.1f} deliveries/s  (events sent in {r['events_sent_s']:.1f} s)"
        for r in rows
    )


def main() -> None:
    from scripts.stack import Stack

    stack = Stack(profile="test")
    stack.start()
    try:
        print(fmt(run(stack.gateway_url, {**os.environ, **stack.env})), flush=True)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
