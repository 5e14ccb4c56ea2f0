"""Analytics events: append-only facts in the month-partitioned `analytics_events` table.

`record()` writes one event inside the caller's tenant transaction. KPIs are read from the
`analytics_daily` rollup, which `maintain()` (a cron) keeps current together with the monthly
partitions; nothing reads raw events per request.
"""

from __future__ import annotations

import json
from typing import Any

from shared.db import Row, Tx, transaction

INSERT_SQL = (
    "INSERT INTO analytics_events (channel_id, user_id, event_type, metadata)"
    " VALUES (app_channel_id(), :eu, :et, CAST(:em AS jsonb))"
)


def record(tx: Tx, *, event_type: str, user_id: str | None,
           metadata: dict[str, Any] | None = None) -> None:
    """One event of the transaction's channel, stamped with the transaction's time."""
    run_prepared(tx, INSERT_SQL, eu=user_id, et=event_type,
                 em=json.dumps(metadata or {}, default=str, separators=(",", ":")))


def run_prepared(tx: Tx, sql: str, **params: Any) -> list[Row]:
    """Run a hot statement as a named prepared statement cached on the pooled connection.

    Heartbeats and playback run the same few statements thousands of times a second; with
    RLS and joins their planning costs more than their execution, and a prepared statement
    lets Postgres switch to a generic plan after five runs. Connections without `prepare`
    (the cloud DB-API adapter) fall back to a plain query.
    """
    conn = tx.conn
    if not hasattr(conn, "prepare"):
        return tx.all(sql, **params)
    cache = getattr(conn, "_learning_prepared", None)
    if cache is None:
        cache = conn._learning_prepared = {}
    stmt = cache.get(sql)
    if stmt is None:
        stmt = cache[sql] = conn.prepare(sql)
    rows = stmt.run(**params) or []
    cols = [c["name"] for c in (stmt.columns or [])]
    return [dict(zip(cols, r, strict=True)) for r in rows]


def maintain(*, months_ahead: int = 2, rollup_days: int = 2) -> dict[str, int]:
    """Cron body: future partitions, rollups of the last `rollup_days` days, stale sessions."""
    with transaction() as tx:
        tx.scalar("SELECT analytics_ensure_partitions(:m)", m=months_ahead)
    with transaction() as tx:
        rows = tx.scalar(
            "SELECT analytics_refresh_rollups(now() - make_interval(days => :d))", d=rollup_days
        )
    with transaction() as tx:
        pruned = tx.scalar("SELECT learning_prune_sessions()")
    return {"rollup_rows": int(rows or 0), "sessions_pruned": int(pruned or 0)}
