"""Events reach the warehouse's table: analytics events published by the maintenance cron and
domain events from the outbox, pulled by the local stand-in for the BigQuery subscriptions
(scripts/local_warehouse.py) and written as newline-delimited JSON rows that fit the table's
schema (shared/analytics/bigquery_events.schema.json, the one terraform/bigquery.tf uses),
with a user id only for users who consented to analytics (migration 0107)."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from scripts import local_warehouse
from shared import analytics
from shared.adapters.pubsub_analytics import analytics_publisher
from shared.analytics import warehouse
from shared.platform import outbox
from shared.platform.ids import uuid7
from tests.factories import new_channel, new_user
from tests.helpers import eventually

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture(scope="module")
def project() -> str:
    project = os.environ.get("GCP_PROJECT", "local-project")
    local_warehouse.ensure_subscriptions(project)
    return project


def rows_in(out: Path, kind: str = "events") -> list[dict]:
    return [
        json.loads(line)
        for f in sorted((out / kind).rglob("*.ndjson"))
        for line in f.read_text(encoding="utf-8").splitlines()
    ]


def test_analytics_and_domain_events_land_as_rows_of_the_table(project, admin_db, tmp_path):
    admin = admin_db(role="superuser")
    owner = new_user()
    ch = new_channel(owner)
    local_warehouse.drain(project, tmp_path / "before")  # what earlier tests left waiting
    admin.run("UPDATE users SET analytics_consent = true WHERE id = :u", u=owner)
    event_id = uuid7()
    admin.run(
        "INSERT INTO analytics_events (id, channel_id, user_id, event_type, metadata)"
        " VALUES (:i, :c, :u, 'resource.downloaded', CAST(:m AS jsonb))",
        i=event_id,
        c=ch,
        u=owner,
        m=json.dumps({"resource_id": "r1", "note": "=cmd|' /C calc'!A0"}),
    )
    # without consent (said no, or never asked) an event leaves with no user id
    refused, unasked = new_user(), new_user()
    admin.run("UPDATE users SET analytics_consent = false WHERE id = :u", u=refused)
    anonymous = {uuid7(): refused, uuid7(): unasked}
    for i, u in anonymous.items():
        admin.run(
            "INSERT INTO analytics_events (id, channel_id, user_id, event_type, metadata)"
            " VALUES (:i, :c, :u, 'lesson.completed', CAST(:m AS jsonb))",
            i=i,
            c=ch,
            u=u,
            m=json.dumps({"course_id": "c1"}),
        )
    admin.close()
    done = analytics.maintain(lag_seconds=0)
    assert done["events_exported"] >= 1
    domain_id = uuid7()
    published = outbox.publish(
        [
            {
                "id": domain_id,
                "channel_id": ch,
                "event_type": "course.published",
                "payload": {"course_id": "c1", "title": "Ünïcode ✓"},
                "occurred_at": datetime.fromisoformat("2026-11-30T01:02:03.456789+00:00"),
            }
        ]
    )
    assert published == [domain_id]

    def landed():
        local_warehouse.drain(project, tmp_path)
        ids = {r["id"] for r in rows_in(tmp_path)}
        return {event_id, domain_id, *anonymous} <= ids

    eventually(landed, True, timeout=15)
    rows = {r["id"]: r for r in rows_in(tmp_path)}
    columns = [c["name"] for c in warehouse.schema()]
    for row in rows.values():
        assert list(row) == columns
        assert warehouse.row_problems(row) == []
    a = rows[event_id]
    assert (a["type"], a["channel_id"], a["user_id"]) == ("resource.downloaded", ch, owner)
    assert a["data"] == {"resource_id": "r1", "note": "=cmd|' /C calc'!A0"}
    for i, u in anonymous.items():
        row = rows[i]
        assert (row["type"], row["channel_id"], row["user_id"]) == ("lesson.completed", ch, None)
        assert u not in json.dumps(row)
    assert a["subscription_name"] == "analytics-events-warehouse"
    assert a["attributes"]["event_type"] == "resource.downloaded"
    d = rows[domain_id]
    assert (d["type"], d["channel_id"], d["user_id"]) == ("course.published", ch, None)
    assert d["occurred_at"] == "2026-11-30T01:02:03.456789+00:00"
    assert d["data"] == {"course_id": "c1", "title": "Ünïcode ✓"}
    assert d["subscription_name"] == "domain-events-warehouse"
    # the export's cursor moved: nothing is published twice by the next run
    again = analytics.maintain(lag_seconds=0)
    local_warehouse.drain(project, tmp_path / "again")
    assert event_id not in {r["id"] for r in rows_in(tmp_path / "again")}
    assert again["events_exported"] >= 0


def test_a_message_that_does_not_fit_goes_to_the_dead_letters(project, tmp_path):
    local_warehouse.drain(project, tmp_path / "before")
    publisher = analytics_publisher()
    publisher.publish_event(b'{"id": "x1", "type": 5}', {"event_type": "bad"}).result(10)
    publisher.publish_event(b"not json", {"event_type": "bad"}).result(10)

    def dead():
        local_warehouse.drain(project, tmp_path)
        return len(rows_in(tmp_path, "dead"))

    eventually(dead, 2, timeout=15)
    problems = [p for r in rows_in(tmp_path, "dead") for p in r["problems"]]
    assert "type: not a string" in problems and "channel_id: required" in problems
    assert rows_in(tmp_path) == []
