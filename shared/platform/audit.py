"""Append-only, hash-chained audit log. The chain itself is computed by a trigger.

Personal data (the client's address) never enters the chain: a row that cannot change cannot
be erased. `record` moves it to `audit_personal_data` and keeps a reference (`ip_ref`) in the
row's details; erasure deletes the referenced data and the chain still verifies
(docs/decisions/audit-personal-data.md)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from shared.platform import outbox
from shared.platform.db import Tx
from shared.platform.ids import uuid7
from shared.platform.log import log_context

# Keys of `details` that are personal data: kept out of the chain, erasable.
PERSONAL_KEYS = ("ip",)


def record(
    tx: Tx,
    *,
    action: str,
    channel_id: str | None,
    actor_user_id: str | None,
    target_type: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    ctx = log_context.get() or {}
    details = dict(details or {})
    personal = {k: details.pop(k) for k in PERSONAL_KEYS if k in details}
    if personal:
        ref = uuid7()
        tx.exec(
            "INSERT INTO audit_personal_data (ref, user_id, channel_id, data)"
            " VALUES (:r, :u, :c, CAST(:d AS jsonb))",
            r=ref,
            u=actor_user_id,
            c=channel_id,
            d=json.dumps(personal, sort_keys=True, default=str),
        )
        details["ip_ref"] = ref
    tx.exec(
        "INSERT INTO audit_log (channel_id, seq, actor_user_id, action, target_type, target_id,"
        " request_id, details, hash) VALUES (:c, 0, :a, :act, :tt, :ti, :rid,"
        " CAST(:d AS jsonb), ''::bytea)",
        c=channel_id,
        a=actor_user_id,
        act=action,
        tt=target_type,
        ti=target_id,
        rid=ctx.get("request_id"),
        d=json.dumps(details, sort_keys=True, default=str),
    )


def record_change(
    tx: Tx,
    *,
    channel_id: str,
    actor_user_id: str | None,
    action: str,
    target_type: str,
    target_id: str,
    payload: dict[str, Any],
    details: dict[str, Any] | None = None,
) -> str:
    """One write's audit row and its outbox event (type = `action`), in the write's own
    transaction: both commit with the change or neither does. Returns the event id."""
    record(
        tx,
        action=action,
        channel_id=channel_id,
        actor_user_id=actor_user_id,
        target_type=target_type,
        target_id=target_id,
        details=details,
    )
    return outbox.add(tx, channel_id=channel_id, event_type=action, payload=payload)


def verify_chain(tx: Tx, channel_id: str | None) -> int | None:
    """Return the seq of the first row whose hash does not follow, or None if intact."""
    rows = tx.all(
        "SELECT seq, prev_hash, hash, audit_canonical(a) AS canonical FROM audit_log a"
        " WHERE channel_id IS NOT DISTINCT FROM CAST(:c AS uuid) ORDER BY seq",
        c=channel_id,
    )
    prev = b""
    for i, r in enumerate(rows, start=1):
        expected = hashlib.sha256(prev + bytes(r["canonical"])).digest()
        if r["seq"] != i or bytes(r["prev_hash"] or b"") != prev or bytes(r["hash"]) != expected:
            return r["seq"]
        prev = bytes(r["hash"])
    return None
