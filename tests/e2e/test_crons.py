"""The crons Cloud Scheduler calls, through the gateway's internal mount."""

import requests

from shared.analytics import events as analytics_events
from shared.platform.db import transaction
from shared.platform.ids import uuid7
from tests.helpers import make_channel, signup


def test_outbox_sweeper_republishes_stranded_events(gateway_url):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    stranded = uuid7()
    with transaction(channel_id=ch["id"]) as tx:
        tx.exec(
            "INSERT INTO outbox (id, channel_id, event_type, payload, occurred_at)"
            " VALUES (:id, app_channel_id(), 'test.cron', '{}', now() - interval '2 minutes')",
            id=stranded,
        )
    r = requests.post(f"{gateway_url}/_internal/outbox_sweeper", timeout=30)
    assert r.status_code == 200 and r.json()["republished"] >= 1
    with transaction(channel_id=ch["id"]) as tx:
        assert tx.scalar("SELECT published_at IS NOT NULL FROM outbox WHERE id = :i", i=stranded)


def test_analytics_maintenance_rolls_up_todays_events(gateway_url):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    with transaction(channel_id=ch["id"], user_id=owner.id) as tx:
        for _ in range(3):
            analytics_events.record(tx, event_type="resource.downloaded", user_id=owner.id)
    r = requests.post(f"{gateway_url}/_internal/analytics_maintenance", timeout=60)
    assert r.status_code == 200 and r.json()["rollup_rows"] >= 1
    with transaction(channel_id=ch["id"]) as tx:
        row = tx.one(
            "SELECT events, users FROM analytics_daily WHERE channel_id = app_channel_id()"
            " AND event_type = 'resource.downloaded'"
        )
    assert (row["events"], row["users"]) == (3, 1)


def test_internal_endpoints_are_not_on_the_public_api(gateway_url):
    spec = requests.get(f"{gateway_url}/v1/openapi.json", timeout=10).json()
    assert not [p for p in spec["paths"] if p.startswith("/_")]


def test_analytics_maintenance_sweeps_uploads_left_unattached_for_a_day(gateway_url):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    base = f"{gateway_url}/v1/channels/{ch['id']}"
    course = requests.post(
        f"{base}/courses", json={"title": "C"}, headers=owner.headers, timeout=10
    ).json()
    ticket = requests.post(
        f"{base}/uploads",
        json={
            "purpose": "resource",
            "course_id": course["id"],
            "filename": "notes.pdf",
            "content_type": "application/pdf",
            "size_bytes": 1234,
        },
        headers=owner.headers,
        timeout=10,
    ).json()
    with transaction(channel_id=ch["id"]) as tx:  # its signed URL was never used, a day ago
        tx.exec(
            "UPDATE uploads SET created_at = now() - interval '25 hours' WHERE id = :u",
            u=ticket["upload_id"],
        )
    r = requests.post(f"{gateway_url}/_internal/analytics_maintenance", timeout=60)
    assert r.status_code == 200 and r.json()["uploads_swept"] >= 1
    upload = requests.get(
        f"{base}/uploads/{ticket['upload_id']}", headers=owner.headers, timeout=10
    ).json()
    assert (upload["status"], upload["reason"]) == ("rejected", "not attached within a day")
