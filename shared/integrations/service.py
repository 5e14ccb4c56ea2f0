"""Outbound webhook endpoints of a channel (owners and admins): register one (its signing
secret is answered once), list, delete, read an endpoint's delivery log, replay a delivery.

How events become deliveries and deliveries requests: shared/integrations/fanout.py and
shared/integrations/delivery.py.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from shared.channels import check_channel_id, require
from shared.integrations import rules
from shared.integrations.fanout import queue_delivery
from shared.integrations.schemas import (
    Delivery,
    DeliveryPage,
    Endpoint,
    EndpointCreated,
    EndpointPage,
    Replay,
    Rotated,
    WebhookEndpointIn,
    WebhookSecretRotateIn,
)
from shared.platform import audit
from shared.platform.config import settings
from shared.platform.db import Tx, transaction
from shared.platform.errors import Conflict, NotFound, Unprocessable
from shared.platform.ids import is_uuid, uuid7
from shared.platform.pagination import decode_cursor, page, to_json

_ENDPOINT = "id, url, events, status, disabled_reason, created_at"
_DELIVERY = (
    "id, endpoint_id, event_id, event_type, status, attempts, last_status_code,"
    " last_latency_ms, last_error, last_attempt_at, delivered_at, created_at"
)
_MAX_UUID = "ffffffff-ffff-ffff-ffff-ffffffffffff"


# -- endpoints ------------------------------------------------------------------------------
def create_endpoint(
    *, channel_id: str, user_id: str | None, data: WebhookEndpointIn
) -> EndpointCreated:
    """Register an endpoint; the answer carries its signing secret, shown only here."""
    secret = rules.new_secret(secrets.token_bytes(rules.SECRET_BYTES))
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "webhooks.manage")  # first: another channel is 404 whatever the URL
        problem = rules.url_problem(data.url, local=settings().is_local)
        if problem is not None:
            raise Unprocessable(problem, errors=[{"loc": ["body", "url"], "msg": problem}])
        row = tx.one(
            "INSERT INTO webhook_endpoints (id, channel_id, url, events, secret, created_by)"
            " VALUES (:id, app_channel_id(), :url, CAST(:events AS text[]), :secret, :u)"
            f" RETURNING {_ENDPOINT}",
            id=uuid7(),
            url=data.url,
            events=data.events,
            secret=secret,
            u=user_id,
        )
        assert row is not None
        endpoint = _endpoint_out(row)
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="webhook_endpoint.created",
            target_type="webhook_endpoint",
            target_id=endpoint["id"],
            payload={"endpoint_id": endpoint["id"], "events": endpoint["events"]},
            details={"url": data.url, "events": endpoint["events"]},
        )
    return {**endpoint, "secret": secret}


def list_endpoints(
    *, channel_id: str, user_id: str | None, limit: int, cursor: str | None
) -> EndpointPage:
    after = (decode_cursor(cursor) or {}).get("id", "00000000-0000-0000-0000-000000000000")
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "webhooks.manage")
        rows = tx.all(
            f"SELECT {_ENDPOINT} FROM webhook_endpoints WHERE channel_id = app_channel_id()"
            " AND id > CAST(:after AS uuid) ORDER BY id LIMIT :n",
            after=_uuid_or(after, "00000000-0000-0000-0000-000000000000"),
            n=limit + 1,
        )
    items = [_endpoint_out(r) for r in rows]
    return cast(EndpointPage, page(items, limit, lambda e: {"id": e["id"]}))


def delete_endpoint(*, channel_id: str, user_id: str | None, endpoint_id: str) -> None:
    """Delete an endpoint with its delivery log; its queued tasks then find nothing to send."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "webhooks.manage")
        row = _endpoint_row(tx, endpoint_id)
        tx.exec("DELETE FROM webhook_endpoints WHERE id = :id", id=row["id"])
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="webhook_endpoint.deleted",
            target_type="webhook_endpoint",
            target_id=str(row["id"]),
            payload={"endpoint_id": str(row["id"])},
        )


def rotate_secret(
    *, channel_id: str, user_id: str | None, endpoint_id: str, data: WebhookSecretRotateIn
) -> Rotated:
    """A new signing secret, answered once; the old one keeps signing beside it for the
    overlap window (0 ends it at once), so receivers can switch without losing a delivery."""
    secret = rules.new_secret(secrets.token_bytes(rules.SECRET_BYTES))
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "webhooks.manage")
        row = _endpoint_row(tx, endpoint_id)
        updated = tx.one(
            "UPDATE webhook_endpoints SET previous_secret = CASE WHEN :h > 0 THEN secret END,"
            " previous_secret_expires_at = CASE WHEN :h > 0"
            " THEN now() + make_interval(hours => :h) END, secret = :s"
            " WHERE id = :id RETURNING previous_secret_expires_at",
            h=data.overlap_hours,
            s=secret,
            id=row["id"],
        )
        assert updated is not None
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="webhook_endpoint.secret_rotated",
            target_type="webhook_endpoint",
            target_id=str(row["id"]),
            payload={"endpoint_id": str(row["id"])},
            details={"overlap_hours": data.overlap_hours},
        )
    return {
        "id": str(row["id"]),
        "secret": secret,
        "previous_secret_expires_at": _when(updated["previous_secret_expires_at"]),
    }


def list_deliveries(
    *, channel_id: str, user_id: str | None, endpoint_id: str, limit: int, cursor: str | None
) -> DeliveryPage:
    """The endpoint's delivery log, newest first."""
    before = (decode_cursor(cursor) or {}).get("id", _MAX_UUID)
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "webhooks.manage")
        _endpoint_row(tx, endpoint_id)
        rows = tx.all(
            f"SELECT {_DELIVERY} FROM webhook_deliveries WHERE channel_id = app_channel_id()"
            " AND endpoint_id = :e AND id < CAST(:before AS uuid) ORDER BY id DESC LIMIT :n",
            e=endpoint_id,
            before=_uuid_or(before, _MAX_UUID),
            n=limit + 1,
        )
    items = [_delivery_out(r) for r in rows]
    return cast(DeliveryPage, page(items, limit, lambda d: {"id": d["id"]}))


def replay_delivery(*, channel_id: str, user_id: str | None, delivery_id: str) -> Replay:
    """Send one delivery again (whatever its state), as a new task of the same message."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "webhooks.manage")
        row = (
            tx.one(
                "SELECT d.id, e.status AS endpoint_status FROM webhook_deliveries d"
                " JOIN webhook_endpoints e ON e.id = d.endpoint_id"
                " WHERE d.channel_id = app_channel_id() AND d.id = :id FOR UPDATE OF d",
                id=delivery_id,
            )
            if is_uuid(delivery_id)
            else None
        )
        if row is None:
            raise NotFound("No such delivery.")
        if row["endpoint_status"] != "enabled":
            raise Conflict("The endpoint is disabled.")
        replays = tx.scalar(
            "UPDATE webhook_deliveries SET status = 'pending', replays = replays + 1,"
            " created_at = now() WHERE id = :id RETURNING replays",
            id=delivery_id,
        )
    queue_delivery(channel_id, delivery_id, generation=int(replays))
    return {"id": delivery_id, "status": "pending"}


# -- helpers --------------------------------------------------------------------------------
def _endpoint_row(tx: Tx, endpoint_id: str) -> dict[str, Any]:
    row = (
        tx.one(
            f"SELECT {_ENDPOINT} FROM webhook_endpoints WHERE channel_id = app_channel_id()"
            " AND id = :id",
            id=endpoint_id,
        )
        if is_uuid(endpoint_id)
        else None
    )
    if row is None:
        raise NotFound("No such webhook endpoint.")
    return row


def _uuid_or(value: Any, default: str) -> str:
    return value if isinstance(value, str) and is_uuid(value) else default


def _endpoint_out(row: Mapping[str, Any]) -> Endpoint:
    return {
        "id": str(row["id"]),
        "url": row["url"],
        "events": list(row["events"]),
        "status": row["status"],
        "disabled_reason": row["disabled_reason"],
        "created_at": to_json(row["created_at"]),
    }


def _delivery_out(row: Mapping[str, Any]) -> Delivery:
    return {
        "id": str(row["id"]),
        "endpoint_id": str(row["endpoint_id"]),
        "event_id": str(row["event_id"]),
        "event_type": row["event_type"],
        "status": row["status"],
        "attempts": row["attempts"],
        "last_status_code": row["last_status_code"],
        "last_latency_ms": row["last_latency_ms"],
        "last_error": row["last_error"],
        "last_attempt_at": _when(row["last_attempt_at"]),
        "delivered_at": _when(row["delivered_at"]),
        "created_at": to_json(row["created_at"]),
    }


def _when(value: datetime | None) -> str | None:
    return None if value is None else to_json(value)
