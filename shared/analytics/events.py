"""Analytics events: append-only facts in the month-partitioned `analytics_events` table.

`record()` writes one event inside the caller's tenant transaction. KPIs are read from the
`analytics_daily` rollup, which `maintain()` (a cron) keeps current together with the monthly
partitions; nothing reads raw events per request.
"""

from __future__ import annotations

import json
from typing import Any

from shared import media
from shared.platform.config import settings
from shared.platform.db import Tx, transaction

INSERT_SQL = (
    "INSERT INTO analytics_events (channel_id, user_id, event_type, metadata)"
    " VALUES (app_channel_id(), :eu, :et, CAST(:em AS jsonb))"
)


def record(
    tx: Tx, *, event_type: str, user_id: str | None, metadata: dict[str, Any] | None = None
) -> None:
    """One event of the transaction's channel, stamped with the transaction's time."""
    tx.exec(
        INSERT_SQL,
        eu=user_id,
        et=event_type,
        em=json.dumps(metadata or {}, default=str, separators=(",", ":")),
    )


def maintain(*, months_ahead: int = 2, lag_seconds: int | None = None) -> dict[str, int]:
    """Cron body: future partitions, rollups rolled forward to `lag_seconds` ago (default from
    settings; see migration 0025), stale sessions, and the media uploads left unattached
    for a day (they stop counting against the channel's storage quota)."""
    lag = settings().analytics_rollup_lag_seconds if lag_seconds is None else lag_seconds
    with transaction() as tx:
        tx.scalar("SELECT analytics_ensure_partitions(:m)", m=months_ahead)
    with transaction() as tx:
        rows = tx.scalar("SELECT analytics_roll_forward(make_interval(secs => :s))", s=lag)
    with transaction() as tx:
        pruned = tx.scalar("SELECT learning_prune_sessions()")
    swept = media.sweep_unattached()
    return {
        "rollup_rows": int(rows or 0),
        "sessions_pruned": int(pruned or 0),
        "uploads_swept": swept,
    }
