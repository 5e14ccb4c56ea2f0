"""Analytics figures for `make bench` (called by scripts/bench.py in the same run): the KPI
summary of one channel over seeded events (issue 14, item 6; goal: p95 < 100 ms for a 90-day
range over 10M events).

BENCH_ANALYTICS_EVENTS events (default 1M so `make bench` stays within minutes; 10M for the
issue's figure) of one channel are written as the superuser,
spread evenly over the last 90 days (heartbeats with watch seconds, some completions and
downloads; 1000 students, 20 courses), in monthly partitions; the past days are rolled up as
the maintenance cron does once a day is over, and a tail of events is added after the
rollups' settled point (what the summary reads raw). Then, through the gateway, sequential
GETs of the summary: 90 days (rollups + tail), 90 days of one course, and a 7-day period in
New York time (not UTC days: read from the raw events).

    rows = run(gateway_url, env)     # env: the stack's environment (DB URLs, ...)
    python scripts/bench_analytics.py  # alone, on a private stack
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EVENTS = int(os.environ.get("BENCH_ANALYTICS_EVENTS", "1000000"))  # full size: 10000000
TAIL = int(os.environ.get("BENCH_ANALYTICS_TAIL", "2000"))
RUNS = int(os.environ.get("BENCH_ANALYTICS_RUNS", "40"))
CHUNK = 25_000  # rows a statement: within the 30 s socket timeout on a busy machine
DAYS = 90

SEED_SQL = """
INSERT INTO analytics_events (channel_id, user_id, event_type, metadata, occurred_at)
SELECT CAST(:c AS uuid), md5('u' || (i % 1000))::uuid,
       CASE WHEN i % 50 = 0 THEN 'lesson.completed'
            WHEN i % 97 = 0 THEN 'resource.downloaded'
            WHEN i % 991 = 0 THEN 'course.completed'
            ELSE 'lesson.heartbeat' END,
       jsonb_build_object('course_id', md5('c' || (i % 20))::uuid,
                          'lesson_id', md5('l' || (i % 400))::uuid,
                          'watch_seconds', CASE WHEN i % 50 = 0 OR i % 97 = 0 OR i % 991 = 0
                                                THEN NULL ELSE 5.0 END),
       {when}
  FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS i
"""
SPREAD = (
    "CAST(:t1 AS timestamptz)"
    " - (CAST(:t1 AS timestamptz) - CAST(:t0 AS timestamptz)) * (i::float8 / :n)"
)


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def seed(admin: Any, channel_id: str, n: int) -> dict[str, Any]:
    """`n` events of the channel over the last DAYS days, rolled up; then a TAIL after them."""
    started = time.perf_counter()
    now = admin.run("SELECT now()")[0][0]
    t0 = now - timedelta(days=DAYS)
    month = t0.date().replace(day=1)
    while month <= now.date():
        admin.run("SELECT analytics_create_partition(:m)", m=month)
        month = (month + timedelta(days=32)).replace(day=1)
    for lo in range(1, n + 1, CHUNK):
        admin.run(
            SEED_SQL.format(when=SPREAD),
            c=channel_id,
            t0=t0,
            t1=now,
            n=n,
            lo=lo,
            hi=min(n, lo + CHUNK - 1),
        )
    seeded = time.perf_counter() - started
    settled = admin.run("SELECT settled_until FROM analytics_rollup_state")[0][0]
    day = t0.date()
    while day <= now.date():  # what the cron does once each day is over
        admin.run("SELECT analytics_rollup_day(:d, :s)", d=day, s=settled)
        day += timedelta(days=1)
    admin.run("VACUUM ANALYZE analytics_daily")
    admin.run("ANALYZE analytics_events")
    # after the settled point: read raw by the summary (now() of this later transaction)
    admin.run(SEED_SQL.format(when="now()"), c=channel_id, lo=1, hi=TAIL)
    return {"seed_s": seeded, "rollup_s": time.perf_counter() - started - seeded}


def timed_gets(url: str, headers: dict[str, str], params: dict[str, str]) -> dict[str, Any]:
    times: list[float] = []
    body: dict[str, Any] = {}
    for _ in range(RUNS):
        t = time.perf_counter()
        r = requests.get(url, params=params, headers=headers, timeout=120)
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
        body = r.json()
    return {"p50": statistics.median(times), "p95": _p(times, 95), "body": body}


def run(base: str, env: dict[str, str]) -> list[dict[str, Any]]:
    from shared.platform import db

    stamp = int(time.time() * 1000)
    r = requests.post(
        f"{base}/v1/auth/signup",
        json={
            "email": f"bench-analytics{stamp}@example.com",
            "password": "bench password 0123",
            "display_name": "Bench analytics",
        },
        timeout=10,
    )
    r.raise_for_status()
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    r = requests.post(
        f"{base}/v1/channels",
        headers=auth,
        json={"slug": f"bench-an{stamp}", "name": "Bench analytics"},
        timeout=10,
    )
    r.raise_for_status()
    channel_id = r.json()["id"]
    admin = db.connect(env.get("ADMIN_DATABASE_URL") or env["MIGRATION_DATABASE_URL"])
    try:
        cost = seed(admin, channel_id, EVENTS)
        course = admin.run("SELECT md5('c1')::uuid::text")[0][0]
        admin.run(
            "INSERT INTO courses (id, channel_id, title, status, created_by)"
            " SELECT CAST(:i AS uuid), CAST(:c AS uuid), 'Bench', 'published', m.user_id"
            " FROM memberships m WHERE m.channel_id = CAST(:c AS uuid) AND m.role = 'owner'",
            i=course,
            c=channel_id,
        )
    finally:
        admin.close()
    today = datetime.now(UTC).date()
    url = f"{base}/v1/channels/{channel_id}/analytics/summary"
    first = (today - timedelta(days=DAYS - 1)).isoformat()
    rows: list[dict[str, Any]] = []
    cases = (
        ("90 days, channel", {"from": first, "to": today.isoformat()}),
        ("90 days, one course", {"from": first, "to": today.isoformat(), "course_id": course}),
        (
            "7 days, America/New_York (raw)",
            {
                "from": (today - timedelta(days=7)).isoformat(),
                "to": (today - timedelta(days=1)).isoformat(),
                "tz": "America/New_York",
            },
        ),
    )
    for what, params in cases:
        got = timed_gets(url, auth, params)
        events = sum(
            d["lesson_completions"] + d["course_completions"] + d["resource_downloads"]
            for d in got["body"]["series"]
        )
        rows.append(
            {
                "what": f"GET analytics/summary, {what}",
                "p50": got["p50"],
                "p95": got["p95"],
                "note": f"{EVENTS:,} events seeded in {cost['seed_s']:.0f} s, rolled up"
                f" in {cost['rollup_s']:.0f} s; {events:,} counted events in range",
            }
        )
    return rows


def main() -> None:
    from scripts.bench import _fmt, _free_port, start_gateway, stop
    from scripts.stack import Stack

    stack = Stack(profile="test")
    stack.start()
    try:
        env = {**os.environ, **stack.env}
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
