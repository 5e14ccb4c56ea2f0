"""Emit `media.released` for objects a write has just made unreferenced (see
shared/media/rules.py). Call it inside the transaction of that write: the event
commits with the change or not at all, and the media_cleanup consumer deletes the objects.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.media.rules import MEDIA_RELEASED, released_payloads
from shared.platform import outbox
from shared.platform.db import Tx


def release(tx: Tx, *, channel_id: str, objects: Iterable[str | None], reason: str) -> int:
    """Outbox events naming `objects` (None skipped); returns how many events were added."""
    payloads = released_payloads(objects, reason)
    for payload in payloads:
        outbox.add(tx, channel_id=channel_id, event_type=MEDIA_RELEASED, payload=payload)
    return len(payloads)
