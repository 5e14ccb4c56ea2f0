"""`make bench`: the platform's speed figures, measured in one run on this machine.

1. Cold import of every function in a fresh interpreter, against the floor of
   functions-framework + pg8000 + pydantic imported alone (goal: within 1.3x, the PDF
   renderer excepted).
2. Through the local gateway, with wrk on 127.0.0.1: bare functions-framework hello (mounted
   behind the same gateway, same workers/threads) vs POST /v1/auth/login and GET /v1/me
   (goal: /v1/me >= 50% of hello's throughput), plus the learning figures (heartbeats,
   playback URLs, landing page) from scripts/bench_learning.py, and the KPI summary over
   seeded analytics events (goal: p95 < 100 ms for 90 days of one channel over 10M events)
   from scripts/bench_analytics.py.
3. The time to export a user with 10k analytics events (scripts/bench_privacy.py) and the
   webhook fan-out in deliveries per second to a local receiver (scripts/bench_webhooks.py).
   Certificate PDF render time and credential sign/verify rates (scripts/bench_certificates.py).

Every load loop is bounded in time and aimed at 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
DURATION = os.environ.get("BENCH_DURATION", "8s")
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
IMPORT_RUNS = int(os.environ.get("BENCH_IMPORT_RUNS", "7"))
FLOOR = "import functions_framework, pg8000.native, pydantic"
# For reading the ratios: pydantic builds its machinery (~25 ms) when the first model class is
# defined, which any function validating input with pydantic pays and the floor does not.
FIRST_MODEL = (
    "import functions_framework, pg8000.native, pydantic\n"
    "class M(pydantic.BaseModel):\n    x: int = 0"
)
LOAD_FUNCTION = """
import importlib.util, sys, time
sys.path.insert(0, {root!r})
t = time.perf_counter()
spec = importlib.util.spec_from_file_location("main", {path!r})
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
print(time.perf_counter() - t)
"""
HELLO = """import functions_framework


@functions_framework.http
def hello(request):
    return "Hello, World!"
"""


def _time_import(code: str) -> float:
    runs = []
    for _ in range(IMPORT_RUNS):
        code_run = (
            f"import time\nt = time.perf_counter()\n{code}\nprint(time.perf_counter() - t)"
            if code.startswith("import ")
            else code
        )
        out = subprocess.run(
            [PY, "-c", code_run],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "0"},
        )
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(runs)


def import_times() -> list[dict[str, Any]]:
    floor = _time_import(FLOOR)
    rows = [
        {"what": "floor: functions_framework + pg8000 + pydantic", "ms": floor * 1000, "ratio": 1.0}
    ]
    model = _time_import(FIRST_MODEL)
    rows.append(
        {
            "what": "reference: floor + one pydantic model",
            "ms": model * 1000,
            "ratio": model / floor,
        }
    )
    for main in sorted((ROOT / "functions").glob("*/main.py")):
        t = _time_import(LOAD_FUNCTION.format(root=str(ROOT), path=str(main)))
        rows.append({"what": f"function {main.parent.name}", "ms": t * 1000, "ratio": t / floor})
    return rows


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float = 30) -> None:
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError as e:
            if getattr(e, "code", None):
                return  # any HTTP answer means it is up
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def wrk(
    url: str,
    *,
    method: str = "GET",
    body: str | None = None,
    headers: dict[str, str] | None = None,
    duration: str = DURATION,
) -> dict[str, Any]:
    """Run wrk against a loopback URL; answer requests/s, p50/p99 latency (ms), non-2xx."""
    from scripts import bench_learning

    script = bench_learning.static_script(method, headers, body)
    return bench_learning.run_wrk(url, script, duration=duration)


def start_gateway(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [PY, str(ROOT / "scripts" / "gateway.py"), "--port", str(port), *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    _wait_http(f"http://127.0.0.1:{port}/_gateway/health")
    return proc


def stop(proc: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def throughput(env: dict[str, str]) -> list[dict[str, Any]]:
    import requests

    rows: list[dict[str, Any]] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-hello-"))
    (tmp / "main.py").write_text(HELLO)
    hello_port, gw_port = _free_port(), _free_port()
    hello = start_gateway(["--only", f"hello={tmp / 'main.py'}:hello"], env, hello_port)
    gw = start_gateway([], env, gw_port)
    try:
        hello_url = f"http://127.0.0.1:{hello_port}/"
        base = f"http://127.0.0.1:{gw_port}"
        email = f"bench{int(time.time())}@example.com"
        password = "bench password 0123"
        r = requests.post(
            f"{base}/v1/auth/signup",
            timeout=10,
            json={"email": email, "password": password, "display_name": "Bench"},
        )
        r.raise_for_status()
        token = r.json()["access_token"]
        requests.post(
            f"{base}/v1/channels",
            headers={"Authorization": f"Bearer {token}"},
            json={"slug": f"bench{int(time.time())}", "name": "Bench"},
            timeout=10,
        )
        auth = {"Authorization": f"Bearer {token}"}
        bare = wrk(hello_url)
        rows.append({"what": "bare functions-framework hello (gateway)", **bare, "vs_hello": 1.0})
        me = wrk(f"{base}/v1/me", headers=auth)
        rows.append({"what": "GET /v1/me", **me, "vs_hello": me["rps"] / bare["rps"]})
        login = wrk(
            f"{base}/v1/auth/login",
            method="POST",
            body=json.dumps({"email": email, "password": password}),
            headers={"Content-Type": "application/json"},
        )
        rows.append(
            {
                "what": "POST /v1/auth/login (argon2id m=19MiB t=2)",
                **login,
                "vs_hello": login["rps"] / bare["rps"],
            }
        )
        from scripts import bench_learning

        rows += bench_learning.run(base, hello_url, env)
        from scripts import bench_analytics

        rows += bench_analytics.run(base, env)
        from scripts import bench_community

        rows += bench_community.run(base, env)
        from scripts import bench_realtime

        rows += bench_realtime.run(base, env)
        from scripts import bench_admin_pages

        rows += bench_admin_pages.run(base, env)
        from scripts import bench_live

        rows += bench_live.run(base, env)
    finally:
        stop(gw)
        stop(hello)
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def _fmt(rows: list[dict[str, Any]]) -> str:
    keys = [
        k
        for k in ("what", "ms", "ratio", "rps", "p50", "p95", "p99", "vs_hello", "non2xx", "note")
        if any(k in r for r in rows)
    ]
    out = []
    widths = {k: max(len(k), *(len(_cell(r.get(k))) for r in rows)) for k in keys}
    out.append("  ".join(k.ljust(widths[k]) for k in keys))
    for r in rows:
        out.append("  ".join(_cell(r.get(k)).ljust(widths[k]) for k in keys))
    return "\n".join(out)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.2f}"
    return "" if v is None else str(v)


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (make bench installs it via scripts/install-system.sh)")
    print("== cold import, median of", IMPORT_RUNS, "fresh interpreters ==")
    print(_fmt(import_times()), flush=True)
    from scripts import bench_certificates

    print(
        f"\n== certificates: {bench_certificates.RENDERS} PDF renders,"
        f" {bench_certificates.SIGNS} credentials (in-process, no stack) =="
    )
    print(bench_certificates.fmt(bench_certificates.run()), flush=True)
    from scripts.stack import Stack

    stack = Stack(profile="test")
    stack.start()
    try:
        # The bench hammers one account: lift the brute-force limits for its own gateway.
        env = {
            **os.environ,
            **stack.env,
            "RATE_LIMIT_LOGIN_ACCOUNT": "1000000000/60",
            "RATE_LIMIT_LOGIN_IP": "1000000000/60",
            "RATE_LIMIT_SIGNUP_IP": "1000000000/60",
        }
        print(
            f"\n== throughput through the gateway: wrk -t2 -c{CONNECTIONS} -d{DURATION},"
            f" gunicorn WORKERS={env.get('WORKERS', '2')} THREADS={env.get('THREADS', '4')} =="
        )
        print(_fmt(throughput(env)), flush=True)
        from scripts import bench_search

        print(f"\n== search: {bench_search.DOCS} documents, {bench_search.RUNS} runs each ==")
        print(bench_search.fmt(bench_search.run(env)), flush=True)
        from scripts import bench_privacy

        print(f"\n== privacy: a user's export, {bench_privacy.RUNS} runs ==")
        print(bench_privacy.fmt(bench_privacy.run(stack.gateway_url, env)), flush=True)
        from scripts import bench_webhooks

        print("\n== webhooks: fan-out to a receiver on 127.0.0.1 ==")
        print(bench_webhooks.fmt(bench_webhooks.run(stack.gateway_url, env)), flush=True)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
