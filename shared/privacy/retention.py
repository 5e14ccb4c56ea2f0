"""Retention (the `retention` cron, hourly): delete what is past its time, in batches of
rules.RETENTION_BATCH rows, each batch its own short transaction, so one run never holds locks
for long; a run that stops early (the batch cap) is continued by the next. Every task is
idempotent: what is gone is not found again. A run that deleted anything is audited (counts
only, on the platform chain).

Two retention rules live with the data they concern, run by the analytics maintenance cron:
abandoned uploads (never finished, or never attached, after 24 h: shared/media/sweep.py) and
raw analytics events past the plan's window once exported to the warehouse
(analytics_prune_raw, migration 0104). retention_analytics_events (0097) is not used: the
analytics capability prunes only what the warehouse already holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from shared.platform import audit
from shared.platform.db import transaction
from shared.privacy import rules

log = logging.getLogger("privacy")


def _batched(delete_batch: Callable[[], int]) -> int:
    total = 0
    for _ in range(rules.RETENTION_MAX_BATCHES):
        n = delete_batch()
        total += n
        if n < rules.RETENTION_BATCH:
            break
    return total


def expire_exports() -> int:
    from shared.adapters import gcs_objects

    def batch() -> int:
        with transaction() as tx:
            due = tx.all(
                "SELECT id, object_name FROM retention_due_exports(:n)", n=rules.RETENTION_BATCH
            )
        for r in due:
            if r["object_name"]:
                gcs_objects.delete("exports", r["object_name"])  # gone already is fine
        if not due:
            return 0
        with transaction() as tx:
            tx.scalar(
                "SELECT retention_mark_expired(CAST(:ids AS uuid[]))",
                ids="{" + ",".join(str(r["id"]) for r in due) + "}",
            )
        return len(due)

    return _batched(batch)


def _sql_batches(sql: str, **params: object) -> int:
    def batch() -> int:
        with transaction() as tx:
            return int(tx.scalar(sql, n=rules.RETENTION_BATCH, **params) or 0)

    return _batched(batch)


def _delete_where(table: str, where: str, **params: object) -> int:
    """DELETE a batch of `table` rows matching `where` (tables without row-level security)."""
    sql = (
        f"WITH gone AS (DELETE FROM {table} WHERE ctid = ANY(ARRAY("
        f"SELECT ctid FROM {table} WHERE {where} LIMIT :n)) RETURNING 1)"
        " SELECT count(*) FROM gone"
    )
    return _sql_batches(sql, **params)


def run() -> dict[str, int]:
    counts = {
        "exports": expire_exports(),
        "deleted_posts": _sql_batches(
            "SELECT retention_deleted_posts(make_interval(secs => :s), :n)",
            s=int(rules.DELETED_POSTS_AFTER.total_seconds()),
        ),
        "idempotency_keys": _delete_where(
            "idempotency_keys",
            "created_at < now() - make_interval(secs => :s)",
            s=int(rules.IDEMPOTENCY_KEYS_AFTER.total_seconds()),
        ),
        "rate_limit_counters": _delete_where(
            "rate_limit_counters",
            "window_start < now() - make_interval(secs => :s)",
            s=int(rules.RATE_LIMIT_COUNTERS_AFTER.total_seconds()),
        ),
        "refresh_tokens": _delete_where(
            "refresh_tokens",
            "expires_at < now() - make_interval(secs => :s)",
            s=int(rules.REFRESH_TOKENS_AFTER.total_seconds()),
        ),
    }
    if any(counts.values()):
        with transaction() as tx:
            audit.record(
                tx,
                action="retention.run",
                channel_id=None,
                actor_user_id=None,
                target_type="retention",
                target_id="hourly",
                details={"deleted": counts},
            )
    log.info("retention run", extra={"fields": counts})
    return counts
