"""The event warehouse's table (BigQuery, fed by Pub/Sub BigQuery subscriptions; issue 14,
item 4) as rows: its schema, the message every analytics event is published as, and the row a
BigQuery subscription writes for a message. Pure, no I/O but reading the schema file, which
terraform/bigquery.tf reads too: one schema for the cloud table and the local stand-in
(scripts/local_warehouse.py), whose newline-delimited JSON files are what `bq load` takes.

A BigQuery subscription with `use_table_schema` and `write_metadata` writes the message's
JSON fields that are columns (id, type, channel_id, user_id, occurred_at, data) and the
message's subscription name, id, publish time and attributes. Domain events (the outbox
envelope) and analytics events (`analytics_envelope`) both have that shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).with_name("bigquery_events.schema.json")
METADATA_COLUMNS = ("subscription_name", "message_id", "publish_time", "attributes")


@cache
def schema() -> tuple[dict[str, str], ...]:
    """The table's columns: `{name, type, mode, description}`, in order."""
    return tuple(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def _timestamp(value: Any) -> str | None:
    """An ISO 8601 UTC timestamp as BigQuery loads it, from a datetime or the text of one
    (`str(datetime)` of the outbox envelope included); None when it is neither."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(UTC).isoformat()


def analytics_envelope(event: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The Pub/Sub message of one analytics event (a row of analytics_export_next()): the
    table's fields as JSON, and the routing attributes domain events carry too."""
    body = {
        "id": str(event["id"]),
        "type": event["event_type"],
        "channel_id": str(event["channel_id"]),
        "user_id": str(event["user_id"]) if event.get("user_id") else None,
        "occurred_at": _timestamp(event["occurred_at"]),
        "data": event.get("metadata") or {},
    }
    attrs = {
        "event_type": str(event["event_type"]),
        "event_id": str(event["id"]),
        "channel_id": str(event["channel_id"]),
    }
    return json.dumps(body, separators=(",", ":"), default=str).encode(), attrs


def row_of(
    body: Any,
    *,
    subscription: str,
    message_id: str,
    publish_time: Any,
    attributes: Mapping[str, str],
) -> dict[str, Any]:
    """The row a BigQuery subscription writes for a message whose data is `body` (decoded
    JSON): the fields that are columns, then the message's metadata. Fields that are not
    columns are dropped; a body that is not an object gives a row with no event fields (it
    will not validate, as BigQuery would refuse it)."""
    fields = body if isinstance(body, dict) else {}
    row: dict[str, Any] = {}
    for col in schema():
        name = col["name"]
        if name in METADATA_COLUMNS:
            continue
        value = fields.get(name)
        if col["type"] == "TIMESTAMP" and value is not None:
            value = _timestamp(value) or value
        row[name] = value
    row.update(
        subscription_name=subscription,
        message_id=message_id,
        publish_time=_timestamp(publish_time),
        attributes=dict(attributes),
    )
    return row


def row_problems(row: Mapping[str, Any]) -> list[str]:
    """Why BigQuery would refuse this row for the table (empty: it fits). Checks every
    column's mode and type, and that the row has no other column."""
    problems = [f"{k}: not a column" for k in row if k not in {c["name"] for c in schema()}]
    for col in schema():
        name, kind, value = col["name"], col["type"], row.get(col["name"])
        if value is None:
            if col["mode"] == "REQUIRED":
                problems.append(f"{name}: required")
            continue
        if kind == "STRING" and not isinstance(value, str):
            problems.append(f"{name}: not a string")
        elif kind == "TIMESTAMP" and (not isinstance(value, str) or _timestamp(value) is None):
            problems.append(f"{name}: not a timestamp with a zone")
        elif kind == "JSON":
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError):
                problems.append(f"{name}: not JSON")
    return problems


def ndjson(rows: list[dict[str, Any]]) -> bytes:
    """Newline-delimited JSON, one row a line: the format `bq load` takes."""
    return b"".join(
        json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" for r in rows
    )
