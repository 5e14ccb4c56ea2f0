"""`make dev`: the whole platform on this machine, seeded, until Ctrl-C.

Starts the dev stack (scripts/stack.py, state in .local/), seeds the demo data through the
HTTP API (scripts/seed.py), prints where everything is, then follows the gateway log.
Ctrl-C, SIGTERM or SIGHUP stop every process it started; nothing is left running. If an
earlier run was killed (kill -9, a crash), its leftovers are found and stopped first.

    python scripts/dev.py [--no-seed] [--quiet]
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import seed as seeding
from stack import ROOT, Stack, StackError


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def follow(path: Path, stop: threading.Event) -> None:
    """Print lines appended to `path` (the gateway's and functions' output) until `stop`."""
    with open(path, errors="replace") as fh:
        fh.seek(0, 2)
        while not stop.is_set():
            line = fh.readline()
            if line:
                print(f"[gateway] {line.rstrip()}", flush=True)
            else:
                stop.wait(0.2)


def summary(stack: Stack, seeded: str) -> str:
    rel = (
        stack.state_dir.relative_to(ROOT)
        if stack.state_dir.is_relative_to(ROOT)
        else (stack.state_dir)
    )
    p = stack.ports
    db = stack.db
    pg = (
        f"127.0.0.1:{p['postgres']}  db {db['name']}  app role platform_app_login/app, "
        f"owner platform_owner/owner, superuser postgres/postgres"
        if db["private"]
        else db["app"]
    )
    stripe = (
        f"http://127.0.0.1:{p['stripe']}  (local Stripe stand-in)"
        if (ROOT / "scripts" / "local_stripe.py").exists()
        else "not running (scripts/local_stripe.py does not exist yet)"
    )
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(stack.gateway_url + "/_gateway/health", timeout=5) as r:
            health = json.loads(r.read())
    except OSError:
        health = {}
    fns = ", ".join(health.get("functions") or []) or "none"
    extra = ""
    if health.get("failed"):
        extra += f"\n               FAILED TO LOAD: {', '.join(health['failed'])} (see logs)"
    if health.get("missing"):
        extra += f"\n               not written yet: {', '.join(health['missing'])}"
    return f"""
Local platform is up (state in {rel}/, logs in {rel}/logs/)
  gateway    {stack.gateway_url}   functions: {fns}{extra}
  postgres   {pg}
  pubsub     127.0.0.1:{p["pubsub"]}   (PUBSUB_EMULATOR_HOST)
  firestore  127.0.0.1:{p["firestore"]}   (FIRESTORE_EMULATOR_HOST)
  gcs        http://127.0.0.1:{p["gcs"]}   (STORAGE_EMULATOR_HOST; buckets {stack.bucket_prefix}-*)
  tasks      127.0.0.1:{p["tasks"]}   (CLOUD_TASKS_EMULATOR_HOST, gRPC)
  smtp       127.0.0.1:{p["smtp"]}   mail lands in {rel}/mail/ as .eml files
  stripe     {stripe}
  zoom       http://127.0.0.1:{p["zoom"]}  (local Zoom stand-in, ZOOM_API_BASE)
  crons      resources.yaml crons POST to {stack.gateway_url}/_internal/<function>
  env        source {rel}/stack.env
{seeded}
Ctrl-C stops everything.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-seed", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="do not follow the gateway log")
    args = parser.parse_args()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    stack = Stack("dev", verbose=True)
    stop = threading.Event()
    code = 0
    try:
        print("starting the local platform ...", flush=True)
        stack.start()
        seeded = "  seed       skipped (--no-seed)"
        if not args.no_seed:
            try:
                seeded = "seeded demo data:\n" + seeding.report(seeding.seed(stack.gateway_url))
            except (RuntimeError, OSError) as exc:
                seeded = f"  seed       FAILED: {exc}"
        print(summary(stack, seeded), flush=True)
        if not args.quiet:
            threading.Thread(
                target=follow, args=(stack.logs_dir / "gateway.log", stop), daemon=True
            ).start()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
    except StackError as exc:
        print(f"\nthe stack did not start: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # let the cleanup finish
        stop.set()
        stack.stop()
        print("stopped; nothing left running.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
