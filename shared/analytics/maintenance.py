"""The analytics maintenance cron's body (function analytics_maintenance): partitions, one
`lesson.watched` event per idle player session, rollups, the warehouse export, raw-event
pruning. Apart from `events` so that a function recording an event does not reach the
warehouse publisher or media's sweep."""

from __future__ import annotations

import json

from shared import media
from shared.analytics import export, rules
from shared.platform.config import settings
from shared.platform.db import transaction

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
