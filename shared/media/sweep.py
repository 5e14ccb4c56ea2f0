"""Sweep of unattached uploads (the maintenance cron): an upload a day old that never arrived
(still pending: its signed URL expired after 15 minutes) or that arrived as a resource file
nobody made a resource ends rejected, stops counting against the storage quota, and its
object, if any, is released for media_cleanup to delete.

Candidates are found across channels by one SECURITY DEFINER function (migration 0038); each
is then re-checked and ended in its own channel's transaction, under row-level security, so a
resource attached meanwhile is kept (the attach locks the upload row, as this update does).
"""

from __future__ import annotations

import logging
from collections import defaultdict

from shared.media.release import release
from shared.media.rules import UNATTACHED_AFTER_SECONDS
from shared.platform import audit, outbox
from shared.platform.db import transaction

log = logging.getLogger("media")
REASON = "not attached within a day"

_END = """
UPDATE uploads u SET status = 'rejected', reason = :reason,
       finalized_at = coalesce(finalized_at, now())
 WHERE u.id = ANY(CAST(:ids AS uuid[])) AND u.channel_id = app_channel_id()
   AND u.created_at < now() - make_interval(secs => :age)
   AND (u.status = 'pending'
        OR (u.status = 'ready' AND u.purpose = 'resource'
            AND NOT EXISTS (SELECT 1 FROM resources r WHERE r.upload_id = u.id)))
RETURNING u.id, u.object_name
"""


def sweep_unattached(
    *, older_than_seconds: int = UNATTACHED_AFTER_SECONDS, batch: int = 500
) -> int:
    """End up to `batch` unattached uploads older than `older_than_seconds`; returns how many."""
    with transaction() as tx:
        rows = tx.all(
            "SELECT channel_id, upload_id FROM media_unattached_uploads("
            "make_interval(secs => :age), :n)",
            age=older_than_seconds,
            n=batch,
        )
    by_channel: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        by_channel[str(r["channel_id"])].append(str(r["upload_id"]))
    swept = 0
    with outbox.publishing_after_commit():
        for channel_id, ids in by_channel.items():
            swept += _end(channel_id, ids, older_than_seconds)
    if swept:
        log.info("swept %d unattached upload(s)", swept)
    return swept


def _end(channel_id: str, ids: list[str], age: int) -> int:
    with transaction(channel_id=channel_id) as tx:
        ended = tx.all(_END, ids=ids, age=age, reason=REASON)
        if not ended:
            return 0
        audit.record(
            tx,
            action="uploads.swept",
            channel_id=channel_id,
            actor_user_id=None,
            target_type="channel",
            target_id=channel_id,
            details={"upload_ids": [str(r["id"]) for r in ended], "reason": REASON},
        )
        release(
            tx,
            channel_id=channel_id,
            objects=[r["object_name"] for r in ended],
            reason="upload.unattached",
        )
    return len(ended)
