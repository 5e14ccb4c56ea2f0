"""Local Cloud Scheduler: POST `/_internal/<function>` on the gateway per resources.yaml `crons`.

Schedules are standard 5-field cron (minute hour day-of-month month day-of-week; `*`, `a-b`,
`*/n`, `a-b/n`, lists; day-of-week 0-7 with 0 and 7 Sunday), evaluated in UTC as Cloud
Scheduler's default time zone. When both day fields are restricted either may match (cron's
rule). Requests look like Cloud Scheduler's (User-Agent Google-Cloud-Scheduler, JSON body
`{}`), without the OIDC token.

`make dev` runs a CronRunner thread. By hand:
    python scripts/local_cron.py --list
    python scripts/local_cron.py --run outbox-sweep      # fire one job now
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import threading
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "shared" / "resources.yaml"

_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def _field(spec: str, lo: int, hi: int) -> set[int]:
    values: set[int] = set()
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, step_s = part.split("/", 1)
            step = int(step_s)
        if part in ("*", ""):
            a, b = lo, hi
        elif "-" in part:
            a, b = (int(x) for x in part.split("-", 1))
        else:
            a = b = int(part)
            if step != 1:
                b = hi
        if not (lo <= a <= hi and lo <= b <= hi) or step < 1:
            raise ValueError(f"cron field {spec!r} out of range {lo}-{hi}")
        values.update(range(a, b + 1, step))
    return values


class Schedule:
    def __init__(self, expr: str):
        fields = expr.split()
        if len(fields) != 5:
            raise ValueError(f"cron schedule needs 5 fields: {expr!r}")
        self.expr = expr
        self.minute, self.hour, self.dom, self.month, dow = (
            _field(f, lo, hi) for f, (lo, hi) in zip(fields, _RANGES, strict=True)
        )
        self.dow = {d % 7 for d in dow}
        self.dom_any = fields[2] == "*"
        self.dow_any = fields[4] == "*"

    def matches(self, t: dt.datetime) -> bool:
        if t.minute not in self.minute or t.hour not in self.hour or t.month not in self.month:
            return False
        dom_ok = t.day in self.dom
        dow_ok = (t.isoweekday() % 7) in self.dow
        if self.dom_any or self.dow_any:
            return dom_ok and dow_ok
        return dom_ok or dow_ok


def fire(gateway_url: str, function: str, job: str, timeout: float = 120) -> int:
    req = urllib.request.Request(
        f"{gateway_url}/_internal/{function}",
        data=b"{}",
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Google-Cloud-Scheduler",
            "X-CloudScheduler": "true",
            "X-CloudScheduler-JobName": job,
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


class CronRunner(threading.Thread):
    """Fires each job at the start of every matching minute (UTC) until `stop()`."""

    def __init__(self, crons: list[dict], gateway_url: str, log_path: Path | None = None):
        super().__init__(name="local-cron", daemon=True)
        self.jobs = [(c["name"], Schedule(c["schedule"]), c["function"]) for c in crons]
        self.gateway_url = gateway_url
        self.log_path = log_path
        self._halt = threading.Event()

    def _log(self, msg: str) -> None:
        line = f"{dt.datetime.now(dt.UTC):%F %T}Z {msg}\n"
        if self.log_path:
            with open(self.log_path, "a") as fh:
                fh.write(line)

    def _run_job(self, name: str, function: str) -> None:
        try:
            status = fire(self.gateway_url, function, name)
            self._log(f"{name} -> /_internal/{function}: {status}")
        except OSError as exc:
            self._log(f"{name} -> /_internal/{function}: {exc}")

    def run(self) -> None:
        while not self._halt.is_set():
            now = dt.datetime.now(dt.UTC)
            nxt = (now + dt.timedelta(minutes=1)).replace(second=0, microsecond=0)
            if self._halt.wait((nxt - now).total_seconds()):
                return
            for name, schedule, function in self.jobs:
                if schedule.matches(nxt):
                    threading.Thread(
                        target=self._run_job, args=(name, function), daemon=True
                    ).start()

    def stop(self) -> None:
        self._halt.set()


def main() -> None:
    import yaml

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateway", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--run", metavar="JOB", help="fire one job now")
    args = parser.parse_args()
    crons = yaml.safe_load(RESOURCES.read_text()).get("crons") or []
    if args.list or not args.run:
        for c in crons:
            print(f"{c['name']:20} {c['schedule']:15} -> /_internal/{c['function']}")
        return
    job = next((c for c in crons if c["name"] == args.run), None)
    if job is None:
        raise SystemExit(f"no cron named {args.run!r}")
    print(fire(args.gateway, job["function"], job["name"]))


if __name__ == "__main__":
    main()
