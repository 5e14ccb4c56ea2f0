"""Media objects that no row needs any more: the `media.released` event and its rules. Pure.

The transaction that makes an object unreferenced (a lesson or resource deleted, a video or
thumbnail replaced, an upload that lost to a newer one) emits `media.released`
`{"objects": [...], "reason": ...}` on the outbox; the `media_cleanup` consumer deletes the
objects from the media bucket after re-checking that nothing references them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MEDIA_RELEASED = "media.released"
# Keeps one event (and one consumer transaction) small; more objects make more events.
MAX_OBJECTS_PER_EVENT = 50
MAX_OBJECT_NAME = 1024  # GCS's own limit, in bytes

# Only the two subtrees the platform releases: uploads and the thumbnails it generates.
_NAME = re.compile(
    r"^channels/(?P<channel>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/"
    r"(?:uploads|thumbnails)(?:/[A-Za-z0-9._-]+)+$"
)


def generated_thumbnail_prefix(channel_id: str, lesson_id: str) -> str:
    """Where media_thumbnail writes the frames it grabs of a lesson's videos."""
    return f"channels/{channel_id}/thumbnails/{lesson_id}/"


def generated_thumbnail_name(channel_id: str, lesson_id: str, upload_id: str) -> str:
    return f"{generated_thumbnail_prefix(channel_id, lesson_id)}{upload_id}.jpg"


def owned_by(name: Any, channel_id: str) -> bool:
    """True when `name` is a media object of this channel that cleanup may delete: under
    `channels/<channel_id>/uploads/` or `.../thumbnails/`, with no `.`/`..` segment."""
    if not isinstance(name, str) or len(name.encode()) > MAX_OBJECT_NAME:
        return False
    m = _NAME.fullmatch(name)
    if m is None or m["channel"] != channel_id.lower():
        return False
    return not any(seg in (".", "..") for seg in name.split("/"))


def released_payloads(objects: Iterable[str | None], reason: str) -> list[dict[str, Any]]:
    """The payloads of the `media.released` events for `objects` (None and repeats dropped,
    order kept); none at all when nothing was released."""
    names = list(dict.fromkeys(o for o in objects if o))
    return [
        {"objects": names[i : i + MAX_OBJECTS_PER_EVENT], "reason": reason}
        for i in range(0, len(names), MAX_OBJECTS_PER_EVENT)
    ]


def parse_released(envelope: Any) -> tuple[str, str, list[str], str] | str:
    """(event_id, channel_id, objects, reason) of a `media.released` envelope (outbox.envelope's
    body), or why it is malformed. Objects are returned as sent: check each with owned_by."""
    if not isinstance(envelope, dict):
        return "the envelope is not an object"
    event_id, channel_id = envelope.get("id"), envelope.get("channel_id")
    data = envelope.get("data")
    if envelope.get("type") != MEDIA_RELEASED:
        return f"not a {MEDIA_RELEASED} event"
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 100:
        return "no event id"
    if not isinstance(channel_id, str) or not _is_uuid(channel_id):
        return "no channel id"
    if not isinstance(data, dict):
        return "no data"
    objects, reason = data.get("objects"), data.get("reason")
    if not isinstance(objects, list) or not 0 < len(objects) <= MAX_OBJECTS_PER_EVENT:
        return "objects must be a list of 1 to 50 names"
    if not all(isinstance(o, str) for o in objects):
        return "objects must be strings"
    return event_id, channel_id.lower(), objects, str(reason or "")[:100]


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _is_uuid(value: str) -> bool:
    return _UUID.fullmatch(value) is not None
