"""Analytics events to the warehouse: the maintenance cron publishes the settled events to
the `analytics-events` topic, whose BigQuery subscription writes them (migration 0104,
terraform/bigquery.tf). At least once: the cursor moves after Pub/Sub confirmed a batch; a
crash in between publishes the batch again (rows share the event id). An event carries its
user id only when the user consented to analytics (analytics_export_next, migration 0107)."""

from __future__ import annotations

from shared.analytics.warehouse import analytics_envelope
from shared.platform.db import transaction

BATCH = 1000
PUBLISH_TIMEOUT = 30.0


def publish_settled(*, batch: int = BATCH, max_batches: int = 100) -> int:
    """Publish the events settled since the last run, oldest first, `batch` at a time (at
    most `max_batches`; the next run goes on). Returns how many were published. Raises when
    Pub/Sub does not confirm a batch: the cursor stays, the next run publishes it again."""
    from shared.adapters.pubsub_analytics import analytics_publisher  # the cron's path only

    publisher = analytics_publisher()
    published = 0
    for _ in range(max_batches):
        with transaction() as tx:
            rows = tx.all("SELECT * FROM analytics_export_next(:n)", n=batch)
        if not rows:
            break
        futures = []
        for r in rows:
            data, attrs = analytics_envelope(r)
            futures.append(publisher.publish_event(data, attrs))
        for f in futures:
            f.result(timeout=PUBLISH_TIMEOUT)
        last = rows[-1]
        with transaction() as tx:
            tx.exec("SELECT analytics_export_done(:at, :id)", at=last["occurred_at"], id=last["id"])
        published += len(rows)
        if len(rows) < batch:
            break
    return published
