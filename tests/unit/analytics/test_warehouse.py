"""The warehouse table's rows: the schema Terraform and the local stand-in share, the message
of an analytics event, and what makes a row unfit for BigQuery."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from shared.analytics import warehouse

ROOT = Path(__file__).resolve().parents[3]


def test_terraform_reads_the_same_schema_file():
    tf = (ROOT / "terraform" / "bigquery.tf").read_text(encoding="utf-8")
    assert "shared/analytics/bigquery_events.schema.json" in tf
    names = [c["name"] for c in warehouse.schema()]
    assert names[:6] == ["id", "type", "channel_id", "user_id", "occurred_at", "data"]
    assert set(warehouse.METADATA_COLUMNS) <= set(names)


def test_an_analytics_event_becomes_a_message_and_a_fitting_row():
    event = {
        "id": "0191a0b0-0000-7000-8000-000000000001",
        "event_type": "lesson.watched",
        "channel_id": "0191a0b0-0000-7000-8000-0000000000c1",
        "user_id": None,
        "metadata": {"watch_seconds": 12.5},
        "occurred_at": datetime(2026, 11, 30, 1, 2, 3, tzinfo=UTC),
    }
    data, attrs = warehouse.analytics_envelope(event)
    body = json.loads(data)
    assert body["occurred_at"] == "2026-11-30T01:02:03+00:00"
    assert attrs == {
        "event_type": "lesson.watched",
        "event_id": event["id"],
        "channel_id": event["channel_id"],
    }
    row = warehouse.row_of(
        {**body, "extra": "dropped"},
        subscription="s",
        message_id="1",
        publish_time="2026-11-30T01:02:04.5Z",
        attributes=attrs,
    )
    assert "extra" not in row and row["user_id"] is None
    assert row["publish_time"] == "2026-11-30T01:02:04.500000+00:00"
    assert warehouse.row_problems(row) == []
    line = warehouse.ndjson([row, row])
    assert line.count(b"\n") == 2 and json.loads(line.splitlines()[0]) == row


def test_rows_bigquery_would_refuse():
    good = warehouse.row_of(
        {
            "id": "e",
            "type": "t.x",
            "channel_id": "c",
            "occurred_at": "2026-01-01 00:00:00+00:00",  # the outbox envelope's str(datetime)
            "data": {},
        },
        subscription="s",
        message_id="1",
        publish_time="2026-01-01T00:00:00Z",
        attributes={},
    )
    assert warehouse.row_problems(good) == []
    assert good["occurred_at"] == "2026-01-01T00:00:00+00:00"
    assert warehouse.row_problems({**good, "occurred_at": "2026-01-01 00:00:00"}) == [
        "occurred_at: not a timestamp with a zone"
    ]
    assert warehouse.row_problems({**good, "id": None}) == ["id: required"]
    assert warehouse.row_problems({**good, "type": 5}) == ["type: not a string"]
    assert warehouse.row_problems({**good, "data": float("nan")}) == ["data: not JSON"]
    assert warehouse.row_problems({**good, "tenant": "x"}) == ["tenant: not a column"]
    empty = warehouse.row_of(
        "not an object", subscription="s", message_id="1", publish_time=None, attributes={}
    )
    assert "id: required" in warehouse.row_problems(empty)
