"""Learning figures for `make bench` (called by scripts/bench.py in the same run):

- POST heartbeats through the gateway, many students x sessions with advancing positions (so
  every beat takes the full path: access check, session swap, interval merge, the session's
  credited seconds), against bare functions-framework hello and against raw single-row
  pg8000 INSERTs on the same machine in the same run. Beats are answered at once and written
  moments later in batches, so two rates are reported: the answers, and the beats stored in
  Postgres per second until the last one has landed (the one that must keep up);
- GET playback URL (access check + analytics event + V4 signing) p99;
- GET landing page (public, server-rendered) p99.

Every loop is bounded (wrk -d, a deadline for the pg8000 threads) and aimed at 127.0.0.1 only.

    rows = run(gateway_url, hello_url, env)     # env: the stack's environment (DB URLs, ...)
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from typing import Any

import requests

DURATION = os.environ.get("BENCH_DURATION", "8s")
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
STUDENTS = int(os.environ.get("BENCH_STUDENTS", "64"))
SESSIONS = int(os.environ.get("BENCH_SESSIONS", "8"))
PASSWORD = "bench password 0123"

DONE_LUA = r"""
done = function(summary, latency, requests)
  io.write(string.format("JSON {\"rps\": %f, \"p50\": %f, \"p99\": %f, \"non2xx\": %d,"
    .. " \"errors\": %d, \"requests\": %d}\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status, summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.requests))
end
"""

# Each request: the next student of this wrk thread, one of its player sessions, at the
# position real time has reached (whole seconds since the run began): what players do. With
# STUDENTS x SESSIONS sessions per wrk thread each one beats every second or two, so nearly
# every request credits an interval (session swap + interval merge + analytics event).
HEARTBEAT_LUA = r"""
tokens = {%(tokens)s}
path = "%(path)s"
sessions = %(sessions)d
nthreads = 0
function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
end
local n = 0
local t0 = os.time()
function request()
  n = n + 1
  local u = (n %% #tokens) + 1
  local s = math.floor(n / #tokens) %% sessions
  local body = string.format(
    '{"session_id":"w%%d-u%%d-s%%d","position_seconds":%%d,"playing":true}',
    tid or 0, u, s, os.time() - t0)
  return wrk.format("POST", path, {["Content-Type"] = "application/json",
                                   ["Authorization"] = "Bearer " .. tokens[u]}, body)
end
"""


def run_wrk(url: str, lua: str, *, duration: str = DURATION) -> dict[str, Any]:
    """Run wrk with a Lua script against a loopback URL: requests/s, p50/p99 (ms), non-2xx."""
    assert url.startswith("http://127.0.0.1:"), url
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua + DONE_LUA)
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{CONNECTIONS}",
                f"-d{duration}",
                "--timeout",
                "5s",
                "-s",
                f.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
    finally:
        os.unlink(f.name)
    m = re.search(r"^JSON (.*)$", out.stdout, re.M)
    assert m, out.stdout + out.stderr
    return json.loads(m.group(1))


def static_script(
    method: str, headers: dict[str, str] | None = None, body: str | None = None
) -> str:
    """The Lua of one fixed request."""
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in (headers or {}).items()]
    return "\n".join(lines) + "\n"


# -- setup ----------------------------------------------------------------------------------
def _signup(base: str, name: str) -> tuple[str, str]:
    email = f"{name}-{uuid.uuid4().hex[:10]}@bench.example.com"
    r = requests.post(
        f"{base}/v1/auth/signup",
        timeout=30,
        json={"email": email, "password": PASSWORD, "display_name": name},
    )
    r.raise_for_status()
    body = r.json()
    return body["user"]["id"], body["access_token"]


def _setup(base: str, env: dict[str, str]) -> dict[str, Any]:
    """A channel with published courses, one with a one-hour ready video; enrolled students."""
    from shared.platform import db

    owner_id, owner_token = _signup(base, "bench-owner")
    auth = {"Authorization": f"Bearer {owner_token}"}
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    r = requests.post(
        f"{base}/v1/channels",
        headers=auth,
        timeout=10,
        json={
            "slug": slug,
            "name": "Bench Academy",
            "theme": {"primary": "#4f46e5", "font": "Inter"},
        },
    )
    r.raise_for_status()
    channel_id = r.json()["id"]
    # Course rows straight into Postgres: the bench measures the learning path, not uploads.
    admin = db.connect(env.get("ADMIN_DATABASE_URL") or env["MIGRATION_DATABASE_URL"])
    try:
        course_ids, lesson_id = [], str(uuid.uuid4())
        for i in range(6):
            cid = str(uuid.uuid4())
            course_ids.append(cid)
            admin.run(
                "INSERT INTO courses (id, channel_id, title, description, status,"
                " created_by, published_at) VALUES (:i, :c, :t, :d, 'published', :u, now())",
                i=cid,
                c=channel_id,
                t=f"Bench course {i}",
                d="A course. " * 20,
                u=owner_id,
            )
        admin.run(
            "INSERT INTO lessons (id, channel_id, course_id, position, title, kind, status,"
            " video_object, duration_seconds) VALUES (:i, :c, :co, 1, 'Long video',"
            " 'video', 'ready', :o, 3600)",
            i=lesson_id,
            c=channel_id,
            co=course_ids[0],
            o=f"channels/{channel_id}/bench/{lesson_id}.mp4",
        )
    finally:
        admin.close()
    tokens = []
    for i in range(STUDENTS):
        _, token = _signup(base, f"bench-student{i}")
        r = requests.post(
            f"{base}/v1/channels/{channel_id}/courses/{course_ids[0]}/enroll",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        r.raise_for_status()
        tokens.append(token)
    return {"channel_id": channel_id, "slug": slug, "lesson_id": lesson_id, "tokens": tokens}


# -- raw Postgres baseline ---------------------------------------------------------------------
def raw_inserts(database_url: str, *, seconds: float, threads: int = CONNECTIONS) -> dict[str, Any]:
    """Single-row autocommit INSERTs with pg8000, `threads` connections, for `seconds`."""
    from shared.platform import db

    latencies: list[list[float]] = [[] for _ in range(threads)]
    start = threading.Barrier(threads + 1)
    stop_at = [0.0]

    def worker(i: int) -> None:
        conn = db.connect(database_url)
        try:
            conn.run(
                "CREATE TEMP TABLE bench_raw (id bigserial PRIMARY KEY, user_id uuid,"
                " metadata jsonb, at timestamptz NOT NULL DEFAULT now())"
            )
            uid = str(uuid.uuid4())
            start.wait()
            mine = latencies[i]
            while time.perf_counter() < stop_at[0]:
                t = time.perf_counter()
                conn.run(
                    "INSERT INTO bench_raw (user_id, metadata) VALUES"
                    " (CAST(:u AS uuid), CAST(:m AS jsonb))",
                    u=uid,
                    m='{"position":1}',
                )
                mine.append(time.perf_counter() - t)
        finally:
            conn.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    stop_at[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start.wait()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    every = sorted(x for lat in latencies for x in lat)
    return {
        "rps": len(every) / elapsed,
        "p50": statistics.median(every) * 1000,
        "p99": every[int(len(every) * 0.99) - 1] * 1000,
        "requests": len(every),
        "non2xx": 0,
    }


def _seconds(duration: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(s|m)?", duration)
    assert m, duration
    return float(m.group(1)) * (60 if m.group(2) == "m" else 1)


def _heartbeat_events(env: dict[str, str], channel_id: str) -> int:
    from shared.platform import db

    conn = db.connect(env.get("ADMIN_DATABASE_URL") or env["MIGRATION_DATABASE_URL"])
    try:
        # every stored beat counts in its session's row (0103: no analytics event per beat)
        return conn.run(
            "SELECT coalesce(sum(beats), 0) FROM watch_sessions WHERE channel_id = :c",
            c=channel_id,
        )[0][0]
    finally:
        conn.close()


def _drain(env: dict[str, str], channel_id: str) -> tuple[int, float]:
    """Wait until the stored beats stop growing; their count and when the last landed."""
    count, at = _heartbeat_events(env, channel_id), time.monotonic()
    deadline = at + 60
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = _heartbeat_events(env, channel_id)
        if now == count:
            break
        count, at = now, time.monotonic()
    return count, at


# -- entry point --------------------------------------------------------------------------------
def run(gateway_url: str, hello_url: str, env: dict[str, str]) -> list[dict[str, Any]]:
    """The learning rows of the bench table (what, rps, p50, p99 in ms, vs_hello, note)."""
    base = gateway_url.rstrip("/")
    s = _setup(base, env)
    rows: list[dict[str, Any]] = []
    hello = run_wrk(hello_url, static_script("GET"))
    rows.append({"what": "bare functions-framework hello (learning run)", **hello, "vs_hello": 1.0})

    path = f"/v1/channels/{s['channel_id']}/lessons/{s['lesson_id']}/heartbeats"
    tokens = ", ".join(f'"{t}"' for t in s["tokens"])
    lua = HEARTBEAT_LUA % {"tokens": tokens, "path": path, "sessions": SESSIONS}
    run_wrk(base + path, lua, duration="2s")  # warm-up: sessions exist, plans are generic
    _drain(env, s["channel_id"])
    before = _heartbeat_events(env, s["channel_id"])
    started = time.monotonic()
    hb = run_wrk(base + path, lua)
    stored, finished = _drain(env, s["channel_id"])
    stored -= before
    ok = hb["requests"] - hb["non2xx"] - hb["errors"]
    # Beats are written moments after the 204, in batches: the rate that counts is the one at
    # which they reach Postgres, so the run lasts until the last one is stored.
    written = stored / (finished - started)
    rows.append(
        {
            "what": f"POST heartbeats ({len(s['tokens'])} students, gateway)",
            **hb,
            "vs_hello": hb["rps"] / hello["rps"],
            "note": f"{ok} answered 204, {stored} stored",
        }
    )
    rows.append(
        {
            "what": "  heartbeats written to Postgres (until the last is stored)",
            "rps": written,
            "vs_hello": written / hello["rps"],
            "note": f"last stored {finished - started - _seconds(DURATION):.2f} s after wrk ended",
        }
    )

    raw = raw_inserts(env["DATABASE_URL"], seconds=_seconds(DURATION))
    rows.append(
        {
            "what": f"raw pg8000 single-row INSERT ({CONNECTIONS} threads)",
            **raw,
            "vs_hello": raw["rps"] / hello["rps"],
            "note": f"heartbeats = {hb['rps'] / raw['rps']:.2f}x raw inserts",
        }
    )

    play = f"{base}/v1/channels/{s['channel_id']}/lessons/{s['lesson_id']}/playback"
    pb = run_wrk(play, static_script("GET", {"Authorization": f"Bearer {s['tokens'][0]}"}))
    rows.append(
        {"what": "GET playback URL (V4 signed)", **pb, "vs_hello": pb["rps"] / hello["rps"]}
    )

    landing = run_wrk(f"{base}/ch/{s['slug']}", static_script("GET"))
    rows.append(
        {
            "what": "GET /ch/{slug} landing page (6 courses)",
            **landing,
            "vs_hello": landing["rps"] / hello["rps"],
        }
    )
    return rows


if __name__ == "__main__":  # standalone: python scripts/bench_learning.py <stack.env>
    import sys

    env = dict(os.environ)
    if len(sys.argv) > 1:
        from pathlib import Path

        for line in Path(sys.argv[1]).read_text().splitlines():
            if line.startswith("export "):
                k, _, v = line[7:].strip().partition("=")
                env[k] = v
    os.environ.update(env)
    print(
        json.dumps(
            run(
                env["GATEWAY_URL"],
                sys.argv[2] if len(sys.argv) > 2 else env["GATEWAY_URL"] + "/_gateway/health",
                env,
            ),
            indent=1,
        )
    )
