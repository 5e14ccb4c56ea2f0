"""Fan-out of domain events into webhook deliveries, one Cloud Task each.

Flow: a domain event reaches `on_domain_event` (function webhook_fanout, a Pub/Sub push
subscription of domain-events filtered on the public event types). It inserts one delivery per
enabled endpoint of the event's channel that wants the event (UNIQUE (endpoint_id, event_id):
a redelivered event adds nothing) and, after commit, queues one Cloud Task per pending delivery
of the event (task name from the delivery id: a redelivery queues nothing new; a failure to
queue raises, so Pub/Sub redelivers and the queueing is retried). The task reaches `deliver`
(function webhook_delivery), which signs the body per the Standard Webhooks spec, POSTs it
through the SSRF-checked client, records the status code and latency, and raises on failure so
Cloud Tasks retries with exponential backoff (queue webhook-deliveries). Once a failing
delivery is 3 days old (or used its attempts) it is marked failed and its endpoint disabled.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.integrations import rules
from shared.platform.db import Tx, transaction
from shared.platform.ids import is_uuid, uuid7

log = logging.getLogger("webhooks")
QUEUE = "webhook-deliveries"
WORKER = "webhook_delivery"


# -- fan-out --------------------------------------------------------------------------------
def on_domain_event(*, envelope: Any, attributes: Mapping[str, str]) -> int:
    """Entry for webhooks_fanout, given a decoded domain event: the number of deliveries
    queued. Events that are not public, or malformed, are acked with 0."""
    if not isinstance(envelope, dict):
        log.warning("malformed domain event dropped")
        return 0
    event_type = rules.public_event(str(envelope.get("type", "")))
    event_id, channel_id = str(envelope.get("id", "")), str(envelope.get("channel_id", ""))
    data = envelope.get("data")
    if event_type is None or not is_uuid(event_id) or not is_uuid(channel_id):
        return 0
    if not isinstance(data, dict) or attributes.get("channel_id") not in (None, channel_id):
        log.warning("event %s: malformed or channel mismatch; dropped", event_id)
        return 0
    body = rules.message(
        event_type=event_type,
        occurred_at=str(envelope.get("occurred_at") or datetime.now(UTC).isoformat()),
        data=data,
    )
    return fan_out(channel_id=channel_id, event_id=event_id, event_type=event_type, body=body)


def fan_out(*, channel_id: str, event_id: str, event_type: str, body: dict[str, Any]) -> int:
    """One delivery per enabled endpoint wanting `event_type`, then one task per delivery of
    this event still pending. Idempotent: the unique (endpoint, event) key and task names."""
    with transaction(channel_id=channel_id) as tx:
        _insert_deliveries(tx, event_id, event_type, body)
        pending = tx.all(
            "SELECT id, replays FROM webhook_deliveries WHERE channel_id = app_channel_id()"
            " AND event_id = :ev AND status = 'pending' AND attempts = 0",
            ev=event_id,
        )
    for d in pending:
        queue_delivery(channel_id, str(d["id"]), generation=int(d["replays"]))
    return len(pending)


def _insert_deliveries(tx: Tx, event_id: str, event_type: str, body: dict[str, Any]) -> int:
    endpoints = tx.all(
        "SELECT id FROM webhook_endpoints WHERE channel_id = app_channel_id()"
        " AND status = 'enabled' AND :t = ANY(events)",
        t=event_type,
    )
    for e in endpoints:
        tx.exec(
            "INSERT INTO webhook_deliveries (id, channel_id, endpoint_id, event_id, event_type,"
            " payload) VALUES (:id, app_channel_id(), :e, :ev, :t, CAST(:p AS jsonb))"
            " ON CONFLICT (endpoint_id, event_id) DO NOTHING",
            id=uuid7(),
            e=e["id"],
            ev=event_id,
            t=event_type,
            p=json.dumps(body, default=str),
        )
    return len(endpoints)


def queue_delivery(channel_id: str, delivery_id: str, *, generation: int) -> None:
    """One task per (delivery, generation): queueing twice is a no-op; a replay is a new
    generation. Raises when Cloud Tasks is unavailable (the caller's retry queues it)."""
    from shared.adapters import tasks

    tasks.enqueue(
        queue=QUEUE,
        function=WORKER,
        payload={"channel_id": channel_id, "delivery_id": delivery_id},
        task_id=f"whd-{delivery_id}-{generation}",
    )
