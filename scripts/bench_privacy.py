"""Privacy figures for `make bench` (issue 15 item 7): the time to export a user holding
BENCH_PRIVACY_EVENTS analytics events (default 10k), through the gateway and the local
Workflows runner, from `POST /v1/me/export` to the ZIP being ready, plus the ZIP's size and
the peak memory of the gateway process that built it (bounded: the export is streamed).

    rows = run(base, env)     # base: the gateway URL; env: the stack's environment
    python scripts/bench_privacy.py   # alone, on a private stack
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EVENTS = int(os.environ.get("BENCH_PRIVACY_EVENTS", "10000"))
RUNS = int(os.environ.get("BENCH_PRIVACY_RUNS", "3"))

SEED = """
INSERT INTO analytics_events (id, channel_id, user_id, event_type, metadata, occurred_at)
SELECT gen_random_uuid(), CAST(:c AS uuid), CAST(:u AS uuid), 'lesson.heartbeat',
       jsonb_build_object('course_id', md5('c' || (g % 20))::uuid,
                          'lesson_id', md5('l' || (g % 400))::uuid, 'watch_seconds', 5.0),
       now() - make_interval(secs => g * 30)
  FROM generate_series(1, :n) g
"""


def _gateway_rss_kb(state_dir: str | None) -> int | None:
    """Peak resident memory (VmHWM) of the gateway's processes, from the stack's pid file."""
    if not state_dir:
        return None
    pid_file = Path(state_dir) / "pids" / "gateway.pid"
    if not pid_file.exists():
        return None
    root = int(pid_file.read_text().split()[0])
    peak = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        pid, ppid = int(fields["Pid"]), int(fields["PPid"])
        if root in (pid, ppid) and "VmHWM" in fields:
            peak = max(peak, int(fields["VmHWM"].split()[0]))
    return peak or None


def run(base: str, env: dict[str, str]) -> list[dict[str, Any]]:
    from scripts.stack import pg_connect

    stamp = int(time.time() * 1000)
    r = requests.post(
        f"{base}/v1/auth/signup",
        json={
            "email": f"bench-privacy{stamp}@example.com",
            "password": "bench password 0123",
            "display_name": "Bench privacy",
        },
        timeout=10,
    )
    r.raise_for_status()
    user_id = r.json()["user"]["id"]
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    r = requests.post(
        f"{base}/v1/channels",
        headers=auth,
        timeout=10,
        json={"slug": f"bench-pv{stamp}", "name": "Bench privacy"},
    )
    r.raise_for_status()
    admin = pg_connect(env.get("ADMIN_DATABASE_URL") or env["MIGRATION_DATABASE_URL"], timeout=600)
    try:
        admin.run(SEED, c=r.json()["id"], u=user_id, n=EVENTS)
    finally:
        admin.close()
    times, size = [], 0
    for _ in range(RUNS):
        t0 = time.perf_counter()
        r = requests.post(f"{base}/v1/me/export", headers=auth, timeout=30)
        r.raise_for_status()
        job = r.json()["job_id"]
        while True:  # a bench's own poll: the export is what is being timed
            s = requests.get(f"{base}/v1/me/export/{job}", headers=auth, timeout=30).json()
            if s["status"] != "running":
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        if s["status"] != "ready":
            raise RuntimeError(f"export ended {s['status']}")
        times.append(elapsed)
        size = len(requests.get(s["url"], timeout=60).content)
    rss = _gateway_rss_kb(env.get("LOCAL_STACK_STATE_DIR"))
    return [
        {
            "what": f"export of a user with {EVENTS} events (POST -> ZIP ready)",
            "best_s": min(times),
            "median_s": sorted(times)[len(times) // 2],
            "zip_kb": size // 1024,
            "events_per_s": EVENTS / min(times),
            "gateway_peak_rss_mb": (rss // 1024) if rss else None,
        }
    ]


def fmt(rows: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{r['what']:<58} best {r['best_s']:6.2f} s  median {r['median_s']:6.2f} s"
        f"  {r['events_per_s']:8.0f} events/s  zip {r['zip_kb']} KiB"
        f"  gateway peak RSS {r['gateway_peak_rss_mb']} MiB"
        for r in rows
    )


def main() -> None:
    from scripts.stack import Stack

    stack = Stack(profile="test")
    stack.start()
    try:
        env = {**os.environ, **stack.env}
        print(fmt(run(stack.gateway_url, env)), flush=True)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
