"""Emit `media.released` for objects a write has just made unreferenced (see
shared/media/rules.py). Call it inside the transaction of that write: the event
commits with the change or not at all, and the media_cleanup consumer deletes the objects.
The uploads that held the objects stop counting against the channel's storage quota in the
same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.media.rules import MEDIA_RELEASED, released_payloads
from shared.platform import outbox
from shared.platform.db import Tx


def release(tx: Tx, *, channel_id: str, objects: Iterable[str | None], reason: str) -> int:
    """Outbox events naming `objects` (None skipped); returns how many events were added."""
    payloads = released_payloads(objects, reason)
    names = [o for p in payloads for o in p["objects"]]
    if names:
        tx.exec(
            "UPDATE uploads SET released_at = now() WHERE channel_id = app_channel_id()"
            " AND object_name = ANY(CAST(:names AS text[])) AND released_at IS NULL",
            names=names,
        )
    for payload in payloads:
        outbox.add(tx, channel_id=channel_id, event_type=MEDIA_RELEASED, payload=payload)
    return len(payloads)
