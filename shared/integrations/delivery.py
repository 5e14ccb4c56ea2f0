"""The delivery worker (function webhook_delivery): one signed attempt of one delivery.

The body fixed at fan-out is signed per the Standard Webhooks spec with the endpoint's secret
(`webhook-id` stays the same across retries and replays, so receivers can deduplicate) and
POSTed through the SSRF-checked client (shared/adapters/webhooks_http.py). The attempt's status
code, latency and error are recorded; a failed attempt raises DeliveryFailed so Cloud Tasks
retries with exponential backoff (queue webhook-deliveries), until the delivery is
rules.RETRY_WINDOW old: then it is marked failed and its endpoint disabled.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from shared.integrations import rules
from shared.platform.config import settings
from shared.platform.db import Tx, transaction
from shared.platform.ids import is_uuid

if TYPE_CHECKING:
    from shared.adapters.webhooks_http import Answer

log = logging.getLogger("webhooks")
DISABLED_REASON = "deliveries kept failing for 3 days"


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"
    GAVE_UP = "gave up"
    SKIPPED = "skipped"  # unknown delivery, already delivered, endpoint disabled or deleted


class DeliveryFailed(Exception):
    """An attempt failed and will be retried: the worker answers 500 so Cloud Tasks backs off."""


# -- delivery -------------------------------------------------------------------------------
def deliver(*, channel_id: Any, delivery_id: Any) -> Outcome:
    """Entry for webhook_delivery: one signed attempt. Raises DeliveryFailed to be retried."""
    if not (isinstance(channel_id, str) and is_uuid(channel_id)) or not (
        isinstance(delivery_id, str) and is_uuid(delivery_id)
    ):
        log.warning("malformed webhook delivery task dropped")
        return Outcome.SKIPPED
    with transaction(channel_id=channel_id) as tx:
        row = tx.one(
            "SELECT d.id, d.event_type, d.payload, d.status, d.attempts, d.created_at,"
            " e.id AS endpoint_id, e.url, e.secret, e.status AS endpoint_status,"
            " e.previous_secret, e.previous_secret_expires_at"
            " FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
            " WHERE d.channel_id = app_channel_id() AND d.id = :id",
            id=delivery_id,
        )
    if row is None or row["status"] != "pending" or row["endpoint_status"] != "enabled":
        return Outcome.SKIPPED
    answer = _send(row)
    ok = rules.succeeded(answer.status_code)
    now = datetime.now(UTC)
    final = not ok and rules.gives_up(
        attempts=int(row["attempts"]) + 1, first_created=row["created_at"], now=now
    )
    _record_attempt(channel_id, row, answer, ok=ok, final=final)
    if ok:
        return Outcome.DELIVERED
    if final:
        log.warning("delivery %s gave up; endpoint %s disabled", delivery_id, row["endpoint_id"])
        return Outcome.GAVE_UP
    raise DeliveryFailed(f"delivery {delivery_id}: {answer.status_code or answer.error}")


def _send(row: Mapping[str, Any]) -> Answer:
    from standardwebhooks.webhooks import Webhook

    from shared.adapters import webhooks_http

    payload = row["payload"]
    body = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    msg_id = f"msg_{row['id']}"
    # One instant for the signature and the header: signed and sent timestamps must agree.
    at = datetime.now(UTC)
    keys = rules.signing_secrets(
        current=row["secret"],
        previous=row["previous_secret"],
        previous_expires_at=row["previous_secret_expires_at"],
        now=at,
    )
    # After a rotation, one `v1,` signature per live secret, space-separated (the spec's form).
    signature = " ".join(Webhook(key).sign(msg_id, at, body) for key in keys)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "creator-platform-webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }
    local = settings().is_local
    return webhooks_http.post(
        str(row["url"]),
        body.encode(),
        headers,
        allow=partial(rules.addresses_allowed, local=local),
        connect_timeout=rules.CONNECT_TIMEOUT_SECONDS,
        read_timeout=rules.READ_TIMEOUT_SECONDS,
        max_bytes=rules.MAX_RESPONSE_BYTES,
    )


def _record_attempt(
    channel_id: str, row: Mapping[str, Any], answer: Answer, *, ok: bool, final: bool
) -> None:
    status = "succeeded" if ok else ("failed" if final else "pending")
    with transaction(channel_id=channel_id) as tx:
        tx.exec(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, status = :s,"
            " last_status_code = :code, last_latency_ms = :ms, last_error = :err,"
            " last_attempt_at = now(), delivered_at = CASE WHEN :ok THEN now() END"
            " WHERE id = :id",
            s=status,
            code=answer.status_code,
            ms=answer.latency_ms,
            err=None if ok else (answer.error or f"HTTP {answer.status_code}")[:500],
            ok=ok,
            id=row["id"],
        )
        if final:
            disabled = tx.exec(
                "UPDATE webhook_endpoints SET status = 'disabled', disabled_at = now(),"
                " disabled_reason = :why WHERE id = :id AND status = 'enabled'",
                why=DISABLED_REASON,
                id=row["endpoint_id"],
            )
            if disabled:
                _tell_owners(tx, row)


def _tell_owners(tx: Tx, row: Mapping[str, Any]) -> None:
    """Mail the channel's owners that an endpoint was disabled. Sent inside the transaction
    that disables it: if the mail relay is down, the disable rolls back with it and the task
    is retried, so the owners hear of it at least once."""
    from shared.adapters import email

    owners = tx.all(
        "SELECT u.email, c.name FROM memberships m JOIN users u ON u.id = m.user_id"
        " JOIN channels c ON c.id = m.channel_id"
        " WHERE m.channel_id = app_channel_id() AND m.role = 'owner' AND u.erased_at IS NULL",
    )
    for owner in owners:
        subject, text = rules.disabled_notice(
            channel_name=owner["name"], url=str(row["url"]), endpoint_id=str(row["endpoint_id"])
        )
        email.send(to=owner["email"], subject=subject, text=text)
