"""The local stand-in for the warehouse's Pub/Sub BigQuery subscriptions (terraform/bigquery.tf).

In the cloud, one BigQuery subscription per topic (domain-events, analytics-events) writes every
message into the `events` table. Locally there is no BigQuery: this consumer pulls the same
messages from the Pub/Sub emulator through subscriptions of the same names, turns each into
the row the BigQuery subscription would write (shared.analytics.warehouse.row_of: table
schema, message metadata) and appends the rows as newline-delimited JSON, the format
`bq load` takes, to <out>/events/dt=<publish day>/<subscription>.ndjson. A message whose row
does not fit the schema goes to <out>/dead/<subscription>.ndjson, as the subscription's
dead-letter topic would take it after its retries. Messages are acked once written.

    python scripts/local_warehouse.py [--out .local/warehouse] [--once]

reads PUBSUB_EMULATOR_HOST and GCP_PROJECT (the stack's stack.env exports both).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.stack import http_json  # noqa: E402
from shared.analytics.warehouse import ndjson, row_of, row_problems  # noqa: E402

# Subscription name -> topic: the BigQuery subscriptions of terraform/bigquery.tf.
SUBSCRIPTIONS = {
    "domain-events-warehouse": "domain-events",
    "analytics-events-warehouse": "analytics-events",
}


def _base(project: str) -> str:
    host = os.environ.get("PUBSUB_EMULATOR_HOST")
    if not host:
        raise SystemExit("PUBSUB_EMULATOR_HOST is not set: this stands in for the emulator only")
    return f"http://{host}/v1/projects/{project}"


def ensure_subscriptions(project: str) -> None:
    """The warehouse's subscriptions on the emulator (created once; an existing one stays)."""
    base = _base(project)
    for name, topic in SUBSCRIPTIONS.items():
        status, body = http_json(
            "PUT", f"{base}/subscriptions/{name}", {"topic": f"projects/{project}/topics/{topic}"}
        )
        if status not in (200, 409):
            raise RuntimeError(f"cannot create subscription {name}: {status} {body}")


def _decode(message: dict[str, Any]) -> Any:
    raw = message.get("data")
    try:
        return json.loads(base64.b64decode(raw or "", validate=True))
    except (ValueError, TypeError, binascii.Error):
        return None


def drain(project: str, out: Path, *, max_messages: int = 1000) -> dict[str, int]:
    """Pull what is waiting on each subscription, write it, ack it. Returns rows written and
    rows dead-lettered."""
    base = _base(project)
    written = dead = 0
    for name in SUBSCRIPTIONS:
        status, body = http_json(
            "POST",
            f"{base}/subscriptions/{name}:pull",
            {"maxMessages": max_messages, "returnImmediately": True},
        )
        if status != 200:
            raise RuntimeError(f"pull {name}: {status} {body}")
        received = (body or {}).get("receivedMessages") or []
        if not received:
            continue
        good: dict[str, list[dict[str, Any]]] = {}
        bad: list[dict[str, Any]] = []
        for r in received:
            m = r["message"]
            row = row_of(
                _decode(m),
                subscription=name,
                message_id=str(m.get("messageId", "")),
                publish_time=m.get("publishTime"),
                attributes=m.get("attributes") or {},
            )
            if row_problems(row):
                bad.append({"row": row, "problems": row_problems(row)})
            else:
                good.setdefault(str(row["publish_time"])[:10], []).append(row)
        for day, rows in good.items():
            path = out / "events" / f"dt={day}" / f"{name}.ndjson"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as fh:
                fh.write(ndjson(rows))
            written += len(rows)
        if bad:
            path = out / "dead" / f"{name}.ndjson"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as fh:
                fh.write(ndjson(bad))
            dead += len(bad)
        status, body = http_json(
            "POST",
            f"{base}/subscriptions/{name}:acknowledge",
            {"ackIds": [r["ackId"] for r in received]},
        )
        if status != 200:
            raise RuntimeError(f"ack {name}: {status} {body}")
    return {"written": written, "dead": dead}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / ".local" / "warehouse"))
    parser.add_argument("--once", action="store_true", help="drain once and exit")
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args(argv)
    project = os.environ.get("GCP_PROJECT", "local-project")
    ensure_subscriptions(project)
    while True:
        done = drain(project, Path(args.out))
        if done["written"] or done["dead"]:
            print(json.dumps(done), flush=True)
        if args.once:
            return 0
        time.sleep(args.interval)


if __name__ == "__main__":
    raise SystemExit(main())
