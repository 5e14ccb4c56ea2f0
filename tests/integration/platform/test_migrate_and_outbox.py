"""Migrations run once under concurrent starts; outbox events reach Pub/Sub, now or by sweep."""

import json
import os
import threading
from urllib.parse import urlparse, urlunparse

import pytest

from shared.channels import service as channels
from shared.platform import migrate, outbox
from shared.platform.db import transaction
from shared.platform.ids import uuid7
from tests.factories import new_user
from tests.helpers import eventually, unique

pytestmark = pytest.mark.usefixtures("stack")


def test_concurrent_migration_runners_apply_each_file_once(admin_db):
    name = unique("mig")
    admin = admin_db(role="superuser")
    admin.run(f'CREATE DATABASE "{name}" OWNER platform_owner')
    url = urlparse(os.environ["MIGRATION_DATABASE_URL"])
    target = urlunparse(url._replace(path=f"/{name}"))
    results, errors = [], []

    def run() -> None:
        try:
            results.append(migrate.migrate(target))
        except Exception as e:  # collected and asserted below
            errors.append(e)

    try:
        threads = [threading.Thread(target=run) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        files = sorted(p.name for p in migrate.MIGRATIONS.glob("[0-9]*.sql"))
        # every file applied by exactly one runner
        assert sorted(name for batch in results for name in batch) == files
        assert migrate.migrate(target) == []  # and a later start applies nothing
    finally:
        admin.run(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


def test_changed_applied_migration_is_refused(tmp_path, monkeypatch):
    (tmp_path / "0001_x.sql").write_text("SELECT 1")
    monkeypatch.setattr(migrate, "MIGRATIONS", tmp_path)
    with pytest.raises(RuntimeError, match="changed"):
        migrate.pending({"0001_x.sql": "not-the-checksum"})


@pytest.fixture
def domain_events():
    from google.cloud import pubsub_v1

    project = os.environ["GCP_PROJECT"]
    sub_client = pubsub_v1.SubscriberClient()
    sub = sub_client.subscription_path(project, unique("test-sub"))
    topic = pubsub_v1.PublisherClient().topic_path(project, "domain-events")
    sub_client.create_subscription(name=sub, topic=topic)

    def pull(expect_ids: set[str], timeout: float = 10) -> dict[str, dict]:
        got: dict[str, dict] = {}

        def pull_once() -> dict[str, dict]:
            resp = sub_client.pull(subscription=sub, max_messages=50, timeout=5)
            for m in resp.received_messages:
                body = json.loads(m.message.data)
                got[body["id"]] = {"body": body, "attributes": dict(m.message.attributes)}
            if resp.received_messages:
                sub_client.acknowledge(
                    subscription=sub, ack_ids=[m.ack_id for m in resp.received_messages]
                )
            return got

        return eventually(
            pull_once, until=lambda g: expect_ids <= set(g), timeout=timeout, what=str(expect_ids)
        )

    yield pull
    sub_client.delete_subscription(subscription=sub)


def test_request_events_are_published_after_commit(domain_events):
    user = new_user()
    with outbox.publishing_after_commit():
        ch = channels.create_channel(user_id=user, slug=unique("ob"), name="Events", theme={})
    with transaction(channel_id=ch["id"]) as tx:
        row = tx.one("SELECT id, published_at FROM outbox WHERE event_type = 'channel.created'")
    assert row["published_at"] is not None
    got = domain_events({str(row["id"])})
    msg = got[str(row["id"])]
    assert msg["attributes"]["event_type"] == "channel.created"
    assert msg["body"]["channel_id"] == ch["id"] and msg["body"]["data"]["slug"] == ch["slug"]


def test_sweeper_republishes_what_was_left_behind_once(domain_events):
    user = new_user()
    ch = channels.create_channel(user_id=user, slug=unique("sw"), name="Sweep", theme={})
    stranded = uuid7()
    with transaction(channel_id=ch["id"]) as tx:  # as if the process died before publishing
        tx.exec(
            "INSERT INTO outbox (id, channel_id, event_type, payload, occurred_at)"
            " VALUES (:id, app_channel_id(), 'test.stranded', '{\"n\": 1}',"
            " now() - interval '5 minutes')",
            id=stranded,
        )
    assert outbox.sweep(min_age_seconds=60) >= 1
    got = domain_events({stranded})
    assert got[stranded]["body"]["data"] == {"n": 1}
    with transaction(channel_id=ch["id"]) as tx:
        assert tx.scalar("SELECT published_at IS NOT NULL FROM outbox WHERE id = :i", i=stranded)
    assert stranded not in {str(e) for e in _unpublished(ch["id"])}


def _unpublished(channel_id: str) -> list:
    with transaction(channel_id=channel_id) as tx:
        return [r["id"] for r in tx.all("SELECT id FROM outbox WHERE published_at IS NULL")]


def test_an_event_rolled_back_by_a_savepoint_is_not_published(domain_events):
    user = new_user()
    ch = channels.create_channel(user_id=user, slug=unique("sp"), name="Savepoint", theme={})
    with outbox.publishing_after_commit(), transaction(channel_id=ch["id"]) as tx:
        tx.exec("SAVEPOINT attempt")
        ghost = outbox.add(tx, channel_id=ch["id"], event_type="test.ghost", payload={})
        tx.exec("ROLLBACK TO SAVEPOINT attempt")
        real = outbox.add(tx, channel_id=ch["id"], event_type="test.real", payload={})
    got = domain_events({real})
    assert real in got and ghost not in got
