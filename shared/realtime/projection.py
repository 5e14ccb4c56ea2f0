"""The community's realtime projection into Firestore (function community_projection).

A domain event becomes operations on documents (rules.ops_for_event); each is applied in its
own Firestore transaction against the document's versions record (rules.decide), so
duplicates and out-of-order deliveries change nothing and the projection converges on the
latest version of every document. No Postgres involved: the versions record is the
idempotency key, and Firestore is never the system of record.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from shared.realtime import rules

log = logging.getLogger("realtime")


def on_domain_event(*, envelope: Any, attributes: Mapping[str, str]) -> str:
    """Entry for community_projection, given a decoded domain event. Returns what happened:
    projected, duplicate (every operation stale or seen), ignored (not a community event) or
    malformed (acked: it will never project). Firestore errors raise, so Pub/Sub redelivers."""
    try:
        ops = rules.ops_for_event(envelope)
    except rules.Malformed as exc:
        log.warning("malformed community event dropped by the projection: %s", exc)
        return "malformed"
    if ops is None:
        return "ignored"
    if attributes.get("channel_id") not in (None, envelope.get("channel_id")):
        log.warning("event %s: attribute and body name different channels", envelope.get("id"))
        return "malformed"
    applied = [project(op) for op in ops]
    return "projected" if any(applied) else "duplicate"


def project(op: rules.Op) -> bool:
    """Apply one operation; False when the record says it is stale or already applied."""
    from shared.adapters import firestore

    def judge(current: dict[str, Any] | None) -> firestore.Change | None:
        decision = rules.decide(rules.Record.from_doc(current), op)
        if decision is None:
            return None
        record = {**decision.record.to_doc(), "path": op.path}
        if person := rules.person_of(op.path):
            record["user_id"] = person
        action = decision.action
        if isinstance(action, rules.Write):
            return record, "set", action.data
        if isinstance(action, rules.Update):
            return record, "update", action.fields
        if isinstance(action, rules.Remove):
            return record, "delete", None
        return record, None, None

    record_path = f"{rules.VERSIONS_COLLECTION}/{rules.record_id(op.path)}"
    return firestore.transact(op.path, record_path, judge)
