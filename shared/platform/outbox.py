"""Transactional outbox: domain events are rows written with the data that caused them.

`add()` inserts the event inside the use case's transaction. A unit of work (an HTTP request,
a pushed event) runs inside `publishing_after_commit()`, which, when the work succeeds,
publishes the events it committed to Pub/Sub right away; anything it could not publish
(crash, Pub/Sub down) is republished by the `outbox_sweeper` cron through `sweep()`.
Consumers must be idempotent either way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from shared.platform.db import Tx, transaction
from shared.platform.ids import uuid7

log = logging.getLogger("outbox")
_pending: ContextVar[list[dict[str, Any]] | None] = ContextVar("outbox_pending", default=None)
_publisher = None


def add(tx: Tx, *, channel_id: str, event_type: str, payload: dict[str, Any]) -> str:
    event_id = uuid7()
    row = tx.one(
        "INSERT INTO outbox (id, channel_id, event_type, payload)"
        " VALUES (:id, :c, :t, CAST(:p AS jsonb)) RETURNING occurred_at",
        id=event_id,
        c=channel_id,
        t=event_type,
        p=json.dumps(payload, default=str),
    )
    pending = _pending.get()
    if pending is not None:
        pending.append(
            {
                "id": event_id,
                "channel_id": channel_id,
                "event_type": event_type,
                "payload": payload,
                "occurred_at": row["occurred_at"] if row else None,
            }
        )
    return event_id


@contextmanager
def publishing_after_commit() -> Iterator[None]:
    """Collect the events that the transactions inside commit, and publish them when the block
    ends without an exception. What is not published here, the sweeper republishes."""
    token = _pending.set([])
    try:
        yield
        _flush()
    finally:
        _pending.reset(token)


def _flush() -> None:
    """Publish what this unit of work committed; failures are left for the sweeper."""
    events = _pending.get() or []
    _pending.set([])
    if not events:
        return
    try:
        events = _still_pending(events)
        published = publish(events)
        with transaction() as tx:
            tx.exec("SELECT outbox_mark_published(CAST(:ids AS uuid[]))", ids=published)
    except Exception:
        log.warning("immediate outbox publish failed; the sweeper will retry", exc_info=True)


def _still_pending(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only events whose rows committed: a savepoint rolled back inside a successful request
    (or a sweeper that was faster) must not make us publish what the database does not hold."""
    by_channel: dict[str, list[str]] = {}
    for e in events:
        by_channel.setdefault(str(e["channel_id"]), []).append(str(e["id"]))
    keep: set[str] = set()
    for channel_id, ids in by_channel.items():
        with transaction(channel_id=channel_id) as tx:
            rows = tx.all(
                "SELECT id FROM outbox WHERE id = ANY(CAST(:ids AS uuid[]))"
                " AND published_at IS NULL",
                ids=ids,
            )
        keep.update(str(r["id"]) for r in rows)
    return [e for e in events if str(e["id"]) in keep]


def envelope(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The message every consumer receives: JSON body, routing attributes."""
    body = {
        "id": str(event["id"]),
        "type": event["event_type"],
        "channel_id": str(event["channel_id"]),
        "occurred_at": event.get("occurred_at"),
        "data": event["payload"],
    }
    attrs = {
        "event_type": event["event_type"],
        "event_id": str(event["id"]),
        "channel_id": str(event["channel_id"]),
    }
    return json.dumps(body, default=str).encode(), attrs


def publish(events: list[dict[str, Any]]) -> list[str]:
    from shared.adapters.pubsub import publisher

    futures = []
    for e in events:
        data, attrs = envelope(e)
        futures.append((str(e["id"]), publisher().publish_event(data, attrs)))
    done = []
    for event_id, fut in futures:
        try:
            fut.result(timeout=10)
            done.append(event_id)
        except Exception:
            log.warning("publish of %s failed", event_id, exc_info=True)
    return done


def sweep(*, min_age_seconds: int = 30, batch: int = 500) -> int:
    """Republish events older than `min_age_seconds` that are still unpublished."""
    with transaction() as tx:
        rows = tx.all(
            "SELECT * FROM outbox_claim_stale(make_interval(secs => :a), :n)",
            a=min_age_seconds,
            n=batch,
        )
    if not rows:
        return 0
    for r in rows:
        if isinstance(r["payload"], str):
            r["payload"] = json.loads(r["payload"])
    published = publish(rows)
    with transaction() as tx:
        tx.exec("SELECT outbox_mark_published(CAST(:ids AS uuid[]))", ids=published)
    return len(published)


def expire_housekeeping() -> int:
    """Drop rate-limit windows and idempotency keys past their use (both are global tables)."""
    with transaction() as tx:
        n = tx.exec("DELETE FROM rate_limit_counters WHERE window_start < now() - interval '1 day'")
        n += tx.exec("DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'")
    return n
