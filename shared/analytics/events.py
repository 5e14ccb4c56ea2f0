"""Analytics events: append-only facts in the month-partitioned `analytics_events` table.

`record()` writes one event inside the caller's tenant transaction. Watch time is not an
event per heartbeat: the heartbeat batches add credited seconds to their player sessions, and
the maintenance cron (`maintenance.maintain()`) writes one `lesson.watched` event per session
once it is idle (migration 0103). KPIs are read from the `analytics_daily` rollup, which that
cron keeps current, plus the short tail after it.
"""

from __future__ import annotations

import json
from typing import Any

from shared.platform.db import Tx

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
