"""Upload use cases: signed upload URLs, and checking what lands in storage.

Flow: `create_upload` records a pending upload and answers a V4 signed PUT URL for an object
name the server picks under the channel's prefix (`channels/<channel_id>/uploads/<upload_id>/
<safe filename>`). The client PUTs the bytes straight to storage. The bucket's OBJECT_FINALIZE
notification reaches `on_object_finalized` (function media_finalized) through Pub/Sub, which
checks the object against the upload record and marks the upload ready (attaching it to its
lesson, resource or thumbnail slot) or rejected (and deletes the object).

Why the re-check matters: in the cloud the signed URL pins the content type and exact size
(storage refuses anything else), but fake-gcs-server, the local storage, enforces neither the
signature nor `x-goog-content-length-range`. So "an upload of the wrong size is refused" holds
locally only because this module compares the stored object's real size and type with the
record and rejects a mismatch; it also reads the file's own header, which no signature can
vouch for (a text file sent as video/mp4).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from shared.billing import plan_of
from shared.catalog import require_writable
from shared.channels import check_channel_id, require
from shared.media.mp4 import NotPlayableMp4, probe
from shared.media.release import release
from shared.media.rules import (
    Attach,
    Outcome,
    Result,
    Step,
    Verdict,
    attachment,
    before_inspection,
    decide,
    fits_quota,
    generated_thumbnail_name,
    generated_thumbnail_prefix,
    mismatch,
    replaced_thumbnail,
    replaced_video_objects,
    storage_quota_bytes,
    upload_payload,
    wants_thumbnail,
)
from shared.media.schemas import UploadData, UploadIn, UploadTicketData
from shared.platform import audit, outbox
from shared.platform.config import settings
from shared.platform.consumers import first_delivery
from shared.platform.db import Tx, transaction
from shared.platform.errors import Conflict, NotFound, Unprocessable
from shared.platform.ids import is_uuid, uuid7

log = logging.getLogger("media")
BUCKET = "media"
CONSUMER = "media_finalized"
UPLOAD_URL_SECONDS = 15 * 60
_OBJECT = re.compile(
    r"^channels/(?P<channel>[0-9a-f-]{36})/uploads/(?P<upload>[0-9a-f-]{36})/[^/]+$"
)
_UPLOAD = (
    "id, purpose, status, reason, filename, content_type, size_bytes, course_id,"
    " lesson_id, object_name, duration_seconds, generation, created_by, created_at,"
    " finalized_at"
)

# Leading bytes by type; types without a signature here (text) are checked by type and size.
MAGIC: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "application/zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "application/epub+zip": (b"PK\x03\x04",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "audio/mpeg": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"),
}


def safe_filename(name: str) -> str:
    """The last path segment, reduced to [A-Za-z0-9._-], never hidden, at most 100 chars."""
    base = re.split(r"[\\/]", name)[-1]
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._-")
    if len(base) > 100:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 99 - len(ext)] + dot + ext) if dot and len(ext) <= 10 else base[:100]
    return base or "file"


def object_name_for(channel_id: str, upload_id: str, filename: str) -> str:
    return f"channels/{channel_id}/uploads/{upload_id}/{safe_filename(filename)}"


def parse_object_name(name: str) -> tuple[str, str] | None:
    """(channel_id, upload_id) of an upload object, None for any other object."""
    m = _OBJECT.match(name or "")
    if not m or not (is_uuid(m["channel"]) and is_uuid(m["upload"])):
        return None
    return m["channel"], m["upload"]


def sniff(content_type: str, head: bytes) -> str | None:
    """Why the leading bytes do not fit the declared type, or None when they do."""
    if content_type == "image/webp":
        ok = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    elif content_type in MAGIC:
        ok = head.startswith(MAGIC[content_type])
    else:
        return None
    return None if ok else f"the file's content is not {content_type}"


def _upload_out(r: dict[str, Any]) -> UploadData:
    d = r["duration_seconds"]
    return {
        "upload_id": str(r["id"]),
        "purpose": r["purpose"],
        "status": r["status"],
        "reason": r["reason"],
        "filename": r["filename"],
        "content_type": r["content_type"],
        "size_bytes": r["size_bytes"],
        "course_id": str(r["course_id"]) if r["course_id"] else None,
        "lesson_id": str(r["lesson_id"]) if r["lesson_id"] else None,
        "duration_seconds": float(d) if d is not None else None,
        "created_at": r["created_at"],
        "finalized_at": r["finalized_at"],
    }


# -- HTTP use cases -----------------------------------------------------------------------
def create_upload(*, channel_id: str, user_id: str, data: UploadIn) -> UploadTicketData:
    """Record a pending upload and sign a PUT URL for it (the schema checked type/size).
    409 when the upload would take the channel past its plan's storage quota."""
    upload_id = uuid7()
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "upload.create")
        if errors := data.problems():
            raise Unprocessable("This file cannot be uploaded for that purpose.", errors=errors)
        course_id, lesson_id = _target(tx, data)
        _reserve_storage(tx, data.size_bytes)
        name = object_name_for(channel_id, upload_id, data.filename)
        tx.exec(
            "INSERT INTO uploads (id, channel_id, purpose, course_id, lesson_id, object_name,"
            " filename, content_type, size_bytes, created_by) VALUES (:id, app_channel_id(),"
            " :p, :c, :l, :o, :f, :ct, :s, :u)",
            id=upload_id,
            p=data.purpose,
            c=course_id,
            l=lesson_id,
            o=name,
            f=data.filename,
            ct=data.content_type,
            s=data.size_bytes,
            u=user_id,
        )
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="upload.created",
            target_type="upload",
            target_id=upload_id,
            payload={
                "upload_id": upload_id,
                "purpose": data.purpose,
                "course_id": course_id,
                "lesson_id": lesson_id,
            },
            details={
                "purpose": data.purpose,
                "size_bytes": data.size_bytes,
                "content_type": data.content_type,
            },
        )
    from shared.adapters import gcs

    url, headers, expires_at = gcs.signed_put_url(
        BUCKET,
        name,
        content_type=data.content_type,
        size_bytes=data.size_bytes,
        expires_seconds=UPLOAD_URL_SECONDS,
    )
    return {
        "upload_id": upload_id,
        "status": "pending",
        "url": url,
        "method": "PUT",
        "headers": headers,
        "expires_at": expires_at,
    }


def _reserve_storage(tx: Tx, size_bytes: int) -> None:
    """Count `size_bytes` against the channel's storage quota; 409 with the figures when it
    would go past it. Held: every upload not rejected whose object was not released (pending
    ones included, so unlimited URLs cannot be asked for). Uploads of one channel are counted
    one at a time (a transaction-scoped lock on the channel's key), so two concurrent
    requests cannot both take the last bytes."""
    tx.exec("SELECT pg_advisory_xact_lock(hashtextextended('uploads:' || app_channel_id(), 0))")
    used = int(
        tx.scalar(
            "SELECT coalesce(sum(size_bytes), 0) FROM uploads WHERE channel_id = app_channel_id()"
            " AND status <> 'rejected' AND released_at IS NULL"
        )
    )
    plan = plan_of(tx)
    quota = storage_quota_bytes(plan.key)
    if not fits_quota(used_bytes=used, requested_bytes=size_bytes, quota_bytes=quota):
        raise Conflict(
            f"This upload would take the channel past the {plan.key} plan's storage quota"
            f" ({used} of {quota} bytes used, {size_bytes} more asked for); delete media or"
            " upgrade the channel's plan.",
            quota_bytes=quota,
            used_bytes=used,
            requested_bytes=size_bytes,
            plan=plan.key,
        )


def _target(tx: Tx, data: UploadIn) -> tuple[str | None, str | None]:
    """The (course_id, lesson_id) the upload is for; 404 for ids not in this channel."""
    course_id = str(data.course_id) if data.course_id else None
    lesson_id = str(data.lesson_id) if data.lesson_id else None
    if lesson_id:
        lesson = tx.one(
            "SELECT course_id, kind FROM lessons WHERE id = :l AND channel_id = app_channel_id()",
            l=lesson_id,
        )
        if lesson is None:
            raise NotFound("No such lesson.")
        if data.purpose == "lesson_video" and lesson["kind"] != "video":
            raise Conflict(f"The lesson is a {lesson['kind']} lesson; videos go to video lessons.")
        if course_id and course_id != str(lesson["course_id"]):
            raise Conflict("The lesson belongs to another course.")
        course_id = str(lesson["course_id"])
    status = tx.scalar(
        "SELECT status FROM courses WHERE id = :c AND channel_id = app_channel_id()", c=course_id
    )
    if status is None:
        raise NotFound("No such course.")
    require_writable(status)
    return course_id, lesson_id


def get_upload(*, channel_id: str, user_id: str, upload_id: str) -> UploadData:
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "upload.read")
        row = tx.one(
            f"SELECT {_UPLOAD} FROM uploads WHERE id = :id AND channel_id = app_channel_id()",
            id=upload_id if is_uuid(upload_id) else None,
        )
    if row is None:
        raise NotFound("No such upload.")
    return _upload_out(row)


# -- storage finalize ---------------------------------------------------------------------
def on_storage_event(
    *,
    event_id: str,
    event_type: str | None,
    obj: dict[str, Any] | None,
    attributes: Mapping[str, str],
) -> Result:
    """Entry for media_finalized, given its CloudEvent decoded (shared.web.envelopes): `obj`
    is the object JSON of the bucket's notification (a Pub/Sub push, what the cloud and the
    local stack deliver, or a direct storage CloudEvent), {} when the push carried only
    attributes, None when it did not decode. Malformed events are logged and acked; they
    will never parse."""
    if obj is None:
        log.warning("malformed storage event %s dropped", event_id)
        return Result(Outcome.MALFORMED)
    kind = attributes.get("eventType") or (
        "OBJECT_FINALIZE" if (event_type or "").endswith("object.v1.finalized") else None
    )
    if kind != "OBJECT_FINALIZE":
        return Result(Outcome.OTHER_EVENT, kind=kind or "unknown")
    bucket = obj.get("bucket") or attributes.get("bucketId")
    name = obj.get("name") or attributes.get("objectId")
    raw_gen = obj.get("generation") or attributes.get("objectGeneration")
    if not isinstance(bucket, str) or not isinstance(name, str):
        return Result(Outcome.MALFORMED)
    try:
        generation = int(raw_gen) if raw_gen is not None else None
    except (TypeError, ValueError):
        return Result(Outcome.MALFORMED)
    with outbox.publishing_after_commit():  # this event's outbox rows, right after commit
        result = on_object_finalized(
            event_id=event_id, bucket=bucket, name=name, generation=generation
        )
    log.info("finalize %s: %s", name, result)
    return result


def on_object_finalized(*, event_id: str, bucket: str, name: str, generation: int | None) -> Result:
    """Check a finalized object against its upload record. Returns what happened (for logs
    and tests). Raises on transient errors (the event is redelivered); returns on permanent
    ones (the event is acked): unknown objects, duplicates, late events.
    """
    if bucket != settings().bucket(BUCKET):
        return Result(Outcome.OTHER_BUCKET)
    ref = parse_object_name(name)
    if ref is None:
        return Result(Outcome.NOT_AN_UPLOAD)
    channel_id, upload_id = ref
    with transaction(channel_id=channel_id) as tx:
        upload = tx.one(
            f"SELECT {_UPLOAD} FROM uploads WHERE id = :id AND object_name = :o",
            id=upload_id,
            o=name,
        )
    if upload is None:
        return Result(Outcome.NO_SUCH_UPLOAD)
    early = before_inspection(upload["status"])
    if early is not None:
        return _answer_early(early, upload, name, generation)

    verdict = _inspect(upload, name, generation)
    if verdict is None:
        return Result(Outcome.OBJECT_GONE)
    with transaction(channel_id=channel_id) as tx:
        if not first_delivery(tx, consumer=CONSUMER, event_id=event_id):
            return Result(Outcome.DUPLICATE)
        locked = tx.one(f"SELECT {_UPLOAD} FROM uploads WHERE id = :id FOR UPDATE", id=upload_id)
        decision = decide(locked["status"] if locked else None, verdict)
        if locked is not None and decision.step is Step.ACCEPT:
            _accept(tx, channel_id, locked, generation, verdict.duration)
        elif locked is not None and decision.step is Step.REJECT:
            _reject(tx, channel_id, locked, generation, verdict.reason or "rejected")
    if decision.discard:
        _discard(name, generation)
    if decision.outcome is Outcome.READY and wants_thumbnail(
        upload["purpose"], upload["lesson_id"] and str(upload["lesson_id"])
    ):
        _queue_thumbnail(channel_id, upload_id)
    return Result(decision.outcome, reason=verdict.reason)


def _answer_early(
    early: Outcome, upload: dict[str, Any], name: str, generation: int | None
) -> Result:
    if early is Outcome.ALREADY_REJECTED:
        _discard(name, generation)  # a leftover or a second PUT: never kept
    elif generation and upload["generation"] not in (None, generation):
        # Only possible locally: in the cloud the URL is create-only (if-generation-match 0).
        log.warning("object %s replaced after it was accepted; ignoring", name)
    return Result(early)


def _queue_thumbnail(channel_id: str, upload_id: str) -> None:
    """Best effort: a lesson without a thumbnail still plays, so a failure here only logs."""
    try:
        from shared.adapters import tasks

        tasks.enqueue(
            queue="media-thumbnails",
            function="media_thumbnail",
            payload={"channel_id": channel_id, "upload_id": upload_id},
            task_id=f"thumb-{upload_id}",
        )
    except Exception:
        log.warning("could not queue the thumbnail of upload %s", upload_id, exc_info=True)


def _discard(name: str, generation: int | None) -> None:
    """Delete a refused object (only that generation). A transient failure raises, the event
    is redelivered, and since the upload is already rejected only this cleanup runs again."""
    from shared.adapters import gcs

    gcs.delete(BUCKET, name, generation=generation)


def _inspect(upload: dict[str, Any], name: str, generation: int | None) -> Verdict | None:
    """Compare the stored object with the record; None if that generation is gone."""
    from shared.adapters import gcs

    info = gcs.describe(BUCKET, name, generation=generation)
    if info is None:
        return None
    gen = info["generation"]
    why = mismatch(
        declared_size=upload["size_bytes"],
        declared_type=upload["content_type"],
        size=info["size"],
        stored_type=info["content_type"],
    )
    if why is not None:
        return Verdict(False, why)

    def read(start: int, end: int) -> bytes:
        return gcs.read_range(BUCKET, name, start, end, generation=gen)

    try:
        if upload["purpose"] == "lesson_video":
            try:
                mp4 = probe(read, info["size"])
            except NotPlayableMp4 as e:
                return Verdict(False, f"not a playable MP4: {e}")
            if not mp4.has_video:
                return Verdict(False, "not a playable MP4: it has no video track")
            return Verdict(True, duration=mp4.duration_seconds)
        why = sniff(upload["content_type"], read(0, min(info["size"], 16) - 1))
        return Verdict(why is None, why)
    except gcs.ObjectMissing:
        return None


def _accept(
    tx: Tx,
    channel_id: str,
    upload: dict[str, Any],
    generation: int | None,
    duration: Decimal | None,
) -> None:
    """Mark the upload ready and attach it where its purpose says (rules.attachment)."""
    payload = upload_payload(upload)
    upload_id, name = payload["upload_id"], upload["object_name"]
    lesson_id, course_id = payload["lesson_id"], payload["course_id"]
    tx.exec(
        "UPDATE uploads SET status = 'ready', reason = NULL, duration_seconds = :d,"
        " generation = :g, finalized_at = now() WHERE id = :id",
        d=duration,
        g=generation,
        id=upload_id,
    )
    target = attachment(upload["purpose"], lesson_id=lesson_id, course_id=course_id)
    if target is Attach.LESSON_VIDEO:
        _attach_video(tx, channel_id, payload, name, duration)
    elif target is Attach.RESOURCE:
        tx.exec(
            "UPDATE resources SET object_name = :o, content_type = :ct, size_bytes = :s"
            " WHERE upload_id = :u",
            o=name,
            ct=upload["content_type"],
            s=upload["size_bytes"],
            u=upload_id,
        )
    elif target is Attach.ORPHANED_VIDEO:
        # Its lesson is gone (deleting a lesson withdraws its pending uploads; this is the
        # fallback): nothing will ever play this object.
        release(tx, channel_id=channel_id, objects=[name], reason="upload.orphaned")
    elif target is Attach.LESSON_THUMBNAIL:
        _set_thumbnail(tx, channel_id, "lessons", lesson_id, name)
    elif target is Attach.COURSE_COVER:
        _set_thumbnail(tx, channel_id, "courses", course_id, name)
    audit.record_change(
        tx,
        channel_id=channel_id,
        actor_user_id=None,
        action="upload.ready",
        target_type="upload",
        target_id=upload_id,
        payload={**payload, "duration_seconds": float(duration) if duration else None},
        details={"generation": generation, "duration_seconds": duration},
    )


def _attach_video(
    tx: Tx, channel_id: str, payload: dict[str, Any], name: str, duration: Decimal | None
) -> None:
    lesson_id, upload_id = payload["lesson_id"], payload["upload_id"]
    before = tx.one(
        "SELECT video_object, thumbnail_object FROM lessons WHERE id = :l FOR NO KEY UPDATE",
        l=lesson_id,
    )
    # The frame media_thumbnail grabbed from the old video goes with it; the task queued
    # for this upload then makes a new one. A thumbnail the creator uploaded stays.
    generated = generated_thumbnail_prefix(channel_id, lesson_id)
    # Out-of-order events for two uploads of one lesson: the newer upload wins.
    attached = tx.exec(
        "UPDATE lessons SET status = 'ready', video_object = :o, duration_seconds = :d,"
        " thumbnail_object = CASE WHEN starts_with(thumbnail_object, :gen) THEN NULL"
        " ELSE thumbnail_object END,"
        " updated_at = now() WHERE id = :l AND NOT EXISTS (SELECT 1 FROM uploads u"
        " WHERE u.lesson_id = :l AND u.purpose = 'lesson_video' AND u.status = 'ready'"
        " AND u.id > CAST(:u AS uuid))",
        o=name,
        d=duration,
        gen=generated,
        l=lesson_id,
        u=upload_id,
    )
    if not attached:
        release(tx, channel_id=channel_id, objects=[name], reason="upload.superseded")
        return
    if before:
        replaced = replaced_video_objects(
            before_video=before["video_object"],
            before_thumbnail=before["thumbnail_object"],
            new_video=name,
            generated=generated,
        )
        release(tx, channel_id=channel_id, objects=replaced, reason="video.replaced")
    outbox.add(
        tx,
        channel_id=channel_id,
        event_type="lesson.ready",
        payload={
            "course_id": payload["course_id"],
            "lesson_id": lesson_id,
            "upload_id": upload_id,
            "duration_seconds": float(duration or 0),
        },
    )


def _set_thumbnail(tx: Tx, channel_id: str, table: str, row_id: str, name: str) -> None:
    """Point a lesson's thumbnail or a course's cover at `name`; release the one it replaces."""
    assert table in ("lessons", "courses")
    old = tx.scalar(
        f"SELECT thumbnail_object FROM {table} WHERE id = :i FOR NO KEY UPDATE", i=row_id
    )
    tx.exec(
        f"UPDATE {table} SET thumbnail_object = :o, updated_at = now() WHERE id = :i",
        o=name,
        i=row_id,
    )
    release(
        tx,
        channel_id=channel_id,
        objects=replaced_thumbnail(old, name),
        reason="thumbnail.replaced",
    )


def _reject(
    tx: Tx, channel_id: str, upload: dict[str, Any], generation: int | None, reason: str
) -> None:
    upload_id = str(upload["id"])
    tx.exec(
        "UPDATE uploads SET status = 'rejected', reason = :r, generation = :g,"
        " finalized_at = now() WHERE id = :id",
        r=reason[:500],
        g=generation,
        id=upload_id,
    )
    audit.record_change(
        tx,
        channel_id=channel_id,
        actor_user_id=None,
        action="upload.rejected",
        target_type="upload",
        target_id=upload_id,
        payload={
            "upload_id": upload_id,
            "purpose": upload["purpose"],
            "lesson_id": str(upload["lesson_id"]) if upload["lesson_id"] else None,
            "reason": reason,
        },
        details={"reason": reason, "generation": generation},
    )


# -- thumbnails (Cloud Tasks worker media_thumbnail) ---------------------------------------
THUMBNAIL_WIDTH = 640


def make_video_thumbnail(*, channel_id: object, upload_id: object) -> Result:
    """Grab one frame of a ready lesson video as the lesson's JPEG thumbnail, unless the
    lesson already has one (a creator's upload, or an earlier run of this task). ffmpeg reads
    the video through a short-lived signed URL with ranged requests: nothing is downloaded
    whole. Returns what happened; raises on transient errors so Cloud Tasks retries.
    `channel_id` and `upload_id` are the task body's fields, unchecked."""
    if not (
        isinstance(channel_id, str)
        and is_uuid(channel_id)
        and isinstance(upload_id, str)
        and is_uuid(upload_id)
    ):
        return Result(Outcome.MALFORMED_TASK)
    with transaction(channel_id=channel_id) as tx:
        row = tx.one(
            "SELECT u.object_name, u.duration_seconds, l.id AS lesson_id, l.thumbnail_object,"
            " l.video_object FROM uploads u JOIN lessons l ON l.id = u.lesson_id"
            " WHERE u.id = :u AND u.status = 'ready' AND u.purpose = 'lesson_video'",
            u=upload_id,
        )
    if row is None:
        return Result(Outcome.NO_READY_VIDEO)
    if row["thumbnail_object"] or row["video_object"] != row["object_name"]:
        return Result(Outcome.HAS_THUMBNAIL)
    from shared.adapters import ffmpeg, gcs

    url, _ = gcs.signed_get_url(BUCKET, row["object_name"], expires_seconds=300)
    at = min(Decimal(1), (row["duration_seconds"] or Decimal(0)) / 2)
    try:
        frame = ffmpeg.grab_frame(url, at_seconds=at, max_width=THUMBNAIL_WIDTH)
    except ffmpeg.FrameFailed:
        if gcs.describe(BUCKET, row["object_name"]) is None:
            # Deleted meanwhile (its lesson went, or media_cleanup released it): retrying
            # cannot help, so answer done rather than have Cloud Tasks try again.
            return Result(Outcome.VIDEO_GONE)
        raise
    name = generated_thumbnail_name(channel_id, str(row["lesson_id"]), upload_id)
    gcs.write(BUCKET, name, frame, content_type="image/jpeg")
    with outbox.publishing_after_commit():  # the release below, right after commit
        done = _attach_thumbnail(channel_id, row, name)
    return Result(Outcome.THUMBNAIL_READY if done else Outcome.LESSON_CHANGED)


def _attach_thumbnail(channel_id: str, row: dict[str, Any], name: str) -> bool:
    with transaction(channel_id=channel_id) as tx:
        done = tx.exec(
            "UPDATE lessons SET thumbnail_object = :t, updated_at = now()"
            " WHERE id = :l AND thumbnail_object IS NULL AND video_object = :o",
            t=name,
            l=row["lesson_id"],
            o=row["object_name"],
        )
        if done:
            audit.record(
                tx,
                action="lesson.thumbnail_generated",
                channel_id=channel_id,
                actor_user_id=None,
                target_type="lesson",
                target_id=str(row["lesson_id"]),
                details={"object": name},
            )
        else:
            # The video was replaced or the lesson deleted while ffmpeg ran: the frame is
            # unused (media_cleanup still keeps it if a concurrent run attached it).
            release(tx, channel_id=channel_id, objects=[name], reason="thumbnail.unused")
    return bool(done)
