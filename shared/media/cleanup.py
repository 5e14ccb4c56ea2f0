"""Consumer of `media.released` (function media_cleanup): delete released media objects.

Safety, because the event only says what *was* released: an object is deleted only if it lies
under the event's own channel prefix (`channels/<channel_id>/uploads|thumbnails/...`; a payload
naming anything else is logged and skipped) and, re-checked in Postgres under that channel's
RLS context, no lesson, course or resource references it and no upload that may still be
attached holds it (pending, or a ready resource upload not yet made a resource). Object names
are unique per upload (and per upload's generated thumbnail), and a released object never
becomes referenced again, so the check cannot race with a new reference to it.

Idempotent: the outbox event id is recorded in processed_events in the transaction that runs
the deletions; a GCS failure raises (Pub/Sub redelivers) and rolls the mark back, a redelivery
or replay of a processed event changes nothing, and deleting a missing object is success.
Malformed events are logged and acked: they will never parse.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from shared.media.rules import Outcome, Result, owned_by, parse_released
from shared.platform.consumers import first_delivery
from shared.platform.db import transaction

log = logging.getLogger("media_cleanup")
BUCKET = "media"
CONSUMER = "media_cleanup"

# Which of the names are still referenced (read under the channel's RLS context; the explicit
# channel filters are for courses, whose published rows every channel can read).
_STILL_REFERENCED = """
SELECT o FROM unnest(CAST(:objects AS text[])) AS o
WHERE EXISTS (SELECT 1 FROM lessons l WHERE l.channel_id = app_channel_id()
              AND (l.video_object = o OR l.thumbnail_object = o))
   OR EXISTS (SELECT 1 FROM courses c WHERE c.channel_id = app_channel_id()
              AND c.thumbnail_object = o)
   OR EXISTS (SELECT 1 FROM resources r LEFT JOIN uploads ru ON ru.id = r.upload_id
              WHERE r.channel_id = app_channel_id() AND (r.object_name = o OR ru.object_name = o))
   OR EXISTS (SELECT 1 FROM uploads u WHERE u.channel_id = app_channel_id()
              AND u.object_name = o
              AND (u.status = 'pending' OR (u.status = 'ready' AND u.purpose = 'resource')))
"""


def on_media_released(*, envelope: Any, attributes: Mapping[str, str]) -> Result:
    """Entry for media_cleanup, given its Pub/Sub push decoded (shared.web.envelopes): the
    outbox envelope (None when the message did not decode) and the message's attributes.
    Returns what happened."""
    parsed = parse_released(envelope)
    if isinstance(parsed, str):
        log.warning("malformed media.released event dropped: %s", parsed)
        return Result(Outcome.MALFORMED_BECAUSE, why=parsed)
    event_id, channel_id, objects, reason = parsed
    if attributes.get("channel_id") not in (None, channel_id):
        log.warning("event %s: attribute and body name different channels; dropped", event_id)
        return Result(Outcome.MALFORMED_BECAUSE, why="channel mismatch")
    result = release_objects(
        event_id=event_id, channel_id=channel_id, objects=objects, reason=reason
    )
    log.info("media.released %s (%s): %s", event_id, reason, result)
    return result


def release_objects(*, event_id: str, channel_id: str, objects: list[str], reason: str) -> Result:
    """Delete the objects of one `media.released` event that are this channel's and unused."""
    foreign = [o for o in objects if not owned_by(o, channel_id)]
    if foreign:
        log.warning(
            "event %s names %d object(s) outside channels/%s/; not deleted: %s",
            event_id,
            len(foreign),
            channel_id,
            [o[:200] for o in foreign[:5]],
        )
    mine = [o for o in dict.fromkeys(objects) if o not in foreign]
    with transaction(channel_id=channel_id) as tx:
        if not first_delivery(tx, consumer=CONSUMER, event_id=event_id):
            return Result(Outcome.DUPLICATE)
        used = {r["o"] for r in tx.all(_STILL_REFERENCED, objects=mine)} if mine else set()
        doomed = [o for o in mine if o not in used]
        if doomed:
            from shared.adapters import gcs_objects

            # Inside the transaction: a storage failure raises and takes the
            # processed_events mark with it, so the redelivery tries again.
            for name in doomed:
                gcs_objects.delete(BUCKET, name)
    return Result(Outcome.CLEANED, deleted=len(doomed), referenced=len(used), refused=len(foreign))
