"""Idempotent consumers: record the message id with the effects, in one transaction."""

from __future__ import annotations

from shared.platform.db import Tx


def first_delivery(tx: Tx, *, consumer: str, event_id: str) -> bool:
    """True the first time (consumer, event_id) is seen; False for a redelivery.

    Call it inside the transaction that applies the effects: if the effects roll back, so does
    the mark, and a concurrent duplicate waits on the primary key, then sees the row.
    """
    row = tx.one(
        "INSERT INTO processed_events (consumer, event_id) VALUES (:c, :e)"
        " ON CONFLICT DO NOTHING RETURNING event_id",
        c=consumer,
        e=event_id,
    )
    return row is not None
