"""Analytics events: append-only facts in the month-partitioned `analytics_events` table.

`record()` writes one event inside the caller's tenant transaction. Watch time is not an
event per heartbeat: the heartbeat batches add credited seconds to their player sessions, and
`maintain()` writes one `lesson.watched` event per session once it is idle (migration 0103).
KPIs are read from the `analytics_daily` rollup, which `maintain()` (a cron) keeps current
together with the monthly partitions, plus the short tail after it.
"""

from __future__ import annotations

import json
from typing import Any

from shared import media
from shared.analytics import export, rules
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


# A player session without a beat for this long is over: its watch time becomes one
# `lesson.watched` event (migration 0103). Players beat every ~10 s while open.
SESSION_IDLE_SECONDS = 300
# Raw events deleted per run beyond the channels' windows (rules.RAW_WINDOW_DAYS).
PRUNE_BATCH = 50_000


def maintain(
    *, months_ahead: int = 2, lag_seconds: int | None = None, idle_seconds: int | None = None
) -> dict[str, int]:
    """Cron body: future partitions, one `lesson.watched` event per player session idle for
    `idle_seconds` (SESSION_IDLE_SECONDS by default), rollups rolled forward to `lag_seconds`
    ago (default from settings; see migration 0025), the settled events published to the
    warehouse and raw events beyond the plan's window deleted (0104), stale sessions, and
    the media uploads left unattached for a day (they stop counting against the channel's
    storage quota)."""
    lag = settings().analytics_rollup_lag_seconds if lag_seconds is None else lag_seconds
    idle = SESSION_IDLE_SECONDS if idle_seconds is None else idle_seconds
    with transaction() as tx:
        tx.scalar("SELECT analytics_ensure_partitions(:m)", m=months_ahead)
    with transaction() as tx:
        reported = tx.scalar("SELECT learning_report_sessions(make_interval(secs => :s))", s=idle)
    with transaction() as tx:
        rows = tx.scalar("SELECT analytics_roll_forward(make_interval(secs => :s))", s=lag)
    exported = export.publish_settled()
    with transaction() as tx:
        raw_pruned = tx.scalar(
            "SELECT analytics_prune_raw(CAST(:w AS jsonb), :n)",
            w=json.dumps(rules.RAW_WINDOW_DAYS),
            n=PRUNE_BATCH,
        )
    with transaction() as tx:
        pruned = tx.scalar("SELECT learning_prune_sessions()")
    swept = media.sweep_unattached()
    return {
        "sessions_reported": int(reported or 0),
        "rollup_rows": int(rows or 0),
        "events_exported": exported,
        "raw_events_pruned": int(raw_pruned or 0),
        "sessions_pruned": int(pruned or 0),
        "uploads_swept": swept,
    }
