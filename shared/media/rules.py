"""Media rules, pure (no I/O): what a finalized upload's check decides, what an accepted upload
attaches and releases, the outcomes the event consumers answer, and the `media.released` event.

The transaction that makes an object unreferenced (a lesson or resource deleted, a video or
thumbnail replaced, an upload that lost to a newer one) emits `media.released`
`{"objects": [...], "reason": ...}` on the outbox; the `media_cleanup` consumer deletes the
objects from the media bucket after re-checking that nothing references them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum, StrEnum
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


# -- outcomes of the event consumers --------------------------------------------------------
class Outcome(StrEnum):
    """What a media event or task did. Values with {fields} are completed by `Result`; the
    text is what logs and the thumbnail task's answer show."""

    READY = "ready"
    REJECTED = "rejected: {reason}"
    MALFORMED = "ignored: malformed event"
    MALFORMED_BECAUSE = "ignored: malformed event ({why})"
    OTHER_EVENT = "ignored: {kind} event"
    OTHER_BUCKET = "ignored: other bucket"
    NOT_AN_UPLOAD = "ignored: not an upload object"
    NO_SUCH_UPLOAD = "ignored: no such upload"
    ALREADY_REJECTED = "ignored: upload already rejected"
    ALREADY_READY = "ignored: upload already ready"
    OBJECT_GONE = "ignored: object gone or replaced"
    DUPLICATE = "ignored: duplicate delivery"
    WITHDRAWN = "ignored: upload withdrawn"
    NO_LONGER_PENDING = "ignored: upload no longer pending"
    CLEANED = "deleted {deleted}, still referenced {referenced}, refused {refused}"
    MALFORMED_TASK = "ignored: malformed task"
    NO_READY_VIDEO = "ignored: no ready lesson video"
    HAS_THUMBNAIL = "ignored: the lesson has a thumbnail or another video"
    VIDEO_GONE = "ignored: the video object is gone"
    LESSON_CHANGED = "ignored: the lesson changed meanwhile"
    THUMBNAIL_READY = "thumbnail ready"


class Result(str):
    """An outcome with its fields filled in. It is the outcome's text (a str, so logs, JSON
    answers and comparisons read as before) and carries `.outcome` for code that branches."""

    outcome: Outcome

    def __new__(cls, outcome: Outcome, **fields: object) -> Result:
        self = super().__new__(cls, outcome.value.format(**fields))
        self.outcome = outcome
        return self

    @property
    def ignored(self) -> bool:
        return self.startswith("ignored")


# -- checking a finalized object against its upload -----------------------------------------
@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str | None = None
    duration: Decimal | None = None


def mismatch(
    *, declared_size: int, declared_type: str, size: int, stored_type: str | None
) -> str | None:
    """Why a stored object does not match its upload record (size first), or None."""
    if size != declared_size:
        return f"size {size} bytes does not match the declared {declared_size} bytes"
    stored = (stored_type or "").split(";")[0].strip().lower()
    if stored != declared_type:
        return f"content type {stored or 'unknown'} does not match the declared {declared_type}"
    return None


def before_inspection(status: str) -> Outcome | None:
    """Whether an event for an upload in `status` is answered without looking at the object:
    rejected uploads never keep an object (the caller deletes it), ready ones are done."""
    if status == "rejected":
        return Outcome.ALREADY_REJECTED
    if status == "ready":
        return Outcome.ALREADY_READY
    return None


class Step(Enum):
    ACCEPT = "accept"
    REJECT = "reject"
    NOTHING = "nothing"


@dataclass(frozen=True)
class Decision:
    step: Step  # what to write, in the transaction that locked the upload
    outcome: Outcome
    discard: bool  # delete the object's generation after commit


def decide(status: str | None, verdict: Verdict) -> Decision:
    """The transition of an upload whose object was inspected, from its status as locked."""
    if status == "pending":
        if verdict.ok:
            return Decision(Step.ACCEPT, Outcome.READY, discard=False)
        return Decision(Step.REJECT, Outcome.REJECTED, discard=True)
    if status == "rejected":  # withdrawn while we checked it (its lesson or resource went)
        return Decision(Step.NOTHING, Outcome.WITHDRAWN, discard=True)
    return Decision(Step.NOTHING, Outcome.NO_LONGER_PENDING, discard=False)


def wants_thumbnail(purpose: str, lesson_id: str | None) -> bool:
    """A lesson video that became ready gets a generated thumbnail (queued after commit)."""
    return purpose == "lesson_video" and lesson_id is not None


# -- what an accepted upload attaches -------------------------------------------------------
class Attach(Enum):
    LESSON_VIDEO = "lesson_video"
    ORPHANED_VIDEO = "orphaned_video"  # its lesson is gone: nothing will play it
    RESOURCE = "resource"
    LESSON_THUMBNAIL = "lesson_thumbnail"
    COURSE_COVER = "course_cover"
    NOTHING = "nothing"


def attachment(purpose: str, *, lesson_id: str | None, course_id: str | None) -> Attach:
    """Where an accepted upload goes."""
    if purpose == "lesson_video":
        return Attach.LESSON_VIDEO if lesson_id else Attach.ORPHANED_VIDEO
    if purpose == "resource":
        return Attach.RESOURCE
    if purpose == "thumbnail" and lesson_id:
        return Attach.LESSON_THUMBNAIL
    if purpose == "thumbnail" and course_id:
        return Attach.COURSE_COVER
    return Attach.NOTHING


def replaced_video_objects(
    *, before_video: str | None, before_thumbnail: str | None, new_video: str, generated: str
) -> list[str]:
    """What a newly attached video releases: the video it replaced, and the thumbnail that
    was generated from that video (under `generated`); a creator's thumbnail stays."""
    if before_video in (None, new_video):
        return []
    thumb = (
        before_thumbnail if before_thumbnail and before_thumbnail.startswith(generated) else None
    )
    return [o for o in (before_video, thumb) if o]


def replaced_thumbnail(old: str | None, new: str) -> list[str]:
    """What attaching thumbnail `new` releases: the one it replaced, if any."""
    return [old] if old and old != new else []


def upload_payload(upload: dict[str, Any]) -> dict[str, Any]:
    """The ids every `upload.*` event carries."""
    return {
        "upload_id": str(upload["id"]),
        "purpose": upload["purpose"],
        "course_id": str(upload["course_id"]) if upload["course_id"] else None,
        "lesson_id": str(upload["lesson_id"]) if upload["lesson_id"] else None,
    }


# -- storage quota --------------------------------------------------------------------------
GiB = 1024**3
# Media storage per channel plan (keys of shared/billing/plans.py PLANS; billing owns the
# plans, media owns this figure). Free holds two full-size lesson videos.
STORAGE_QUOTA_BYTES: dict[str, int] = {
    "free": 10 * GiB,
    "pro": 500 * GiB,
    "business": 5 * 1024 * GiB,
}
# Uploads a day old that never arrived, or arrived as resources nobody attached, are swept.
UNATTACHED_AFTER_SECONDS = 24 * 3600


def storage_quota_bytes(plan_key: str) -> int:
    """The media storage quota of a plan; an unknown plan gets the free one."""
    return STORAGE_QUOTA_BYTES.get(plan_key, STORAGE_QUOTA_BYTES["free"])


def fits_quota(*, used_bytes: int, requested_bytes: int, quota_bytes: int) -> bool:
    """Whether `requested_bytes` more still fit: reaching the quota exactly is allowed."""
    return used_bytes + requested_bytes <= quota_bytes
