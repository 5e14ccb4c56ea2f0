"""Course use cases: courses, lessons (ordered), batches (cohorts) and resources.

Visibility: staff (owner, admin, instructor, moderator) see drafts; everyone else, signed in
or not, member or not, sees published courses only, and anything of a course they cannot see
is 404. An archived course (retired by its creator: off the catalogue, closed to new students,
read-only) stays visible to its staff and to the students still enrolled in it; publishing it
again reopens it. Writes need `course.write` / `batch.write` (instructor and above): a
non-member gets 404, a weaker role 403. Every write is audit-logged and emits an outbox event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypedDict, TypeVar, cast

from pg8000.native import DatabaseError

from shared import billing, media
from shared.catalog.guards import require_writable
from shared.catalog.rules import CourseStatus, course_viewable, publish_blockers
from shared.catalog.schemas import (
    BatchIn,
    BatchPatch,
    CourseIn,
    CoursePatch,
    LessonIn,
    LessonPatch,
    ResourceIn,
)
from shared.channels import allows, check_channel_id, require, role_of
from shared.platform import audit
from shared.platform.db import Row, Tx, sqlstate, transaction
from shared.platform.errors import Conflict, NotFound, Unprocessable
from shared.platform.ids import is_uuid, uuid7
from shared.platform.pagination import decode_cursor, page

CHECK_VIOLATION = "23514"
_COURSE = (
    "id, channel_id, title, description, status, price_amount, price_currency,"
    " created_at, updated_at, published_at"
)
_LESSON = (
    "id, course_id, position, title, kind, body, status, video_object, duration_seconds,"
    " created_at, updated_at"
)
_BATCH = "id, course_id, name, starts_at, ends_at, capacity, seats_taken, created_at"
_RESOURCE = (
    "id, course_id, lesson_id, title, upload_id, object_name, content_type, size_bytes, created_at"
)


# -- results: what the use cases answer (the JSON bodies; schemas.py has their OpenAPI) ------
class Price(TypedDict):
    amount: int
    currency: str


class Course(TypedDict):
    id: str
    channel_id: str
    title: str
    description: str
    status: str
    price: Price | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


class Lesson(TypedDict):
    id: str
    course_id: str
    position: int
    title: str
    kind: str
    status: str
    duration_seconds: float | None
    has_video: bool
    body: str | None
    created_at: datetime
    updated_at: datetime


class CourseDetail(Course):
    lessons: list[Lesson]


class Batch(TypedDict):
    id: str
    course_id: str
    name: str
    starts_at: datetime
    ends_at: datetime | None
    capacity: int | None
    seats_taken: int
    created_at: datetime


class Resource(TypedDict):
    id: str
    course_id: str
    lesson_id: str | None
    title: str
    upload_id: str | None
    ready: bool
    content_type: str | None
    size_bytes: int | None
    created_at: datetime


T = TypeVar("T")


class Page(TypedDict, Generic[T]):
    items: list[T]
    next_cursor: str | None


def _page(items: list[T], limit: int, cursor_of: Callable[[T], dict[str, Any]]) -> Page[T]:
    return cast(Page[T], page(items, limit, cursor_of))


def _returning(tx: Tx, sql: str, **params: Any) -> Row:
    """The row a statement must return (an INSERT, an UPDATE of a locked row)."""
    row = tx.one(sql, **params)
    if row is None:
        raise RuntimeError("the statement returned no row")
    return row


# -- shaping ------------------------------------------------------------------------------
def _course_out(r: Row) -> Course:
    price: Price | None = None
    if r["price_amount"] is not None:
        price = {"amount": int(r["price_amount"]), "currency": r["price_currency"]}
    return {
        "id": str(r["id"]),
        "channel_id": str(r["channel_id"]),
        "title": r["title"],
        "description": r["description"],
        "status": r["status"],
        "price": price,
        "created_at": r["created_at"],
        "updated_at": r["updated_at"],
        "published_at": r["published_at"],
    }


def _lesson_out(r: Row, *, with_body: bool = True) -> Lesson:
    d = r["duration_seconds"]
    return {
        "id": str(r["id"]),
        "course_id": str(r["course_id"]),
        "position": r["position"],
        "title": r["title"],
        "kind": r["kind"],
        "status": r["status"],
        "duration_seconds": float(d) if d is not None else None,
        "has_video": r["video_object"] is not None,
        "body": r["body"] if with_body else None,
        "created_at": r["created_at"],
        "updated_at": r["updated_at"],
    }


def _batch_out(r: Row) -> Batch:
    return {
        "id": str(r["id"]),
        "course_id": str(r["course_id"]),
        "name": r["name"],
        "starts_at": r["starts_at"],
        "ends_at": r["ends_at"],
        "capacity": r["capacity"],
        "seats_taken": r["seats_taken"],
        "created_at": r["created_at"],
    }


def _resource_out(r: Row) -> Resource:
    return {
        "id": str(r["id"]),
        "course_id": str(r["course_id"]),
        "lesson_id": str(r["lesson_id"]) if r["lesson_id"] else None,
        "title": r["title"],
        "upload_id": str(r["upload_id"]) if r["upload_id"] else None,
        "ready": r["object_name"] is not None,
        "content_type": r["content_type"],
        "size_bytes": r["size_bytes"],
        "created_at": r["created_at"],
    }


# -- lookups ------------------------------------------------------------------------------
def _uuid_or_404(value: str, what: str) -> str:
    if not is_uuid(value):
        raise NotFound(f"No such {what}.")
    return value


def _channel_exists(tx: Tx) -> None:
    if tx.scalar("SELECT 1 FROM channels WHERE id = app_channel_id()") is None:
        raise NotFound("No such channel.")


def _is_staff(role: str | None) -> bool:
    return allows(role, "course.read_drafts")


def _visible_course(tx: Tx, course_id: str, role: str | None, user_id: str | None) -> Row:
    """A course the caller may see (rules.course_viewable), else 404."""
    row = tx.one(
        f"SELECT {_COURSE} FROM courses WHERE id = :id AND channel_id = app_channel_id()",
        id=_uuid_or_404(course_id, "course"),
    )
    if row is None:
        raise NotFound("No such course.")
    staff = _is_staff(role)
    # Enrollment matters only for an archived course seen by a non-staff caller: ask then.
    asks = not staff and row["status"] == CourseStatus.ARCHIVED
    enrolled = asks and _enrolled(tx, course_id, user_id)
    if not course_viewable(row["status"], staff=staff, enrolled=enrolled):
        raise NotFound("No such course.")
    return row


def _course_for_update(tx: Tx, course_id: str) -> Row:
    row = tx.one(
        f"SELECT {_COURSE} FROM courses WHERE id = :id AND channel_id = app_channel_id()"
        " FOR NO KEY UPDATE",
        id=_uuid_or_404(course_id, "course"),
    )
    if row is None:
        raise NotFound("No such course.")
    return row


def _writable_course(tx: Tx, course_id: str) -> Row:
    row = _course_for_update(tx, course_id)
    require_writable(row["status"])
    return row


def _enrolled(tx: Tx, course_id: str, user_id: str | None) -> bool:
    """The caller has an active enrollment in the course."""
    if not user_id:
        return False
    return (
        tx.scalar(
            "SELECT 1 FROM enrollments WHERE course_id = :c AND user_id = :u"
            " AND status = 'active' AND channel_id = app_channel_id()",
            c=course_id,
            u=user_id,
        )
        is not None
    )


def _entitled(tx: Tx, course_id: str, user_id: str | None, role: str | None) -> bool:
    """Staff, or a student with an active enrollment: may read lesson bodies."""
    return _is_staff(role) or _enrolled(tx, course_id, user_id)


def _cursor_id(cursor: str | None) -> str | None:
    after = decode_cursor(cursor)
    if after is None:
        return None
    value = after.get("id")
    if not isinstance(value, str) or not is_uuid(value):
        raise Unprocessable(
            "Invalid cursor.", errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}]
        )
    return value


# -- courses ------------------------------------------------------------------------------
def create_course(*, channel_id: str, user_id: str, data: CourseIn) -> Course:
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "course.write")
        price = data.price
        row = _returning(
            tx,
            f"INSERT INTO courses (id, channel_id, title, description, price_amount,"
            f" price_currency, created_by) VALUES (:id, app_channel_id(), :t, :d, :pa, :pc, :u)"
            f" RETURNING {_COURSE}",
            id=uuid7(),
            t=data.title,
            d=data.description,
            u=user_id,
            pa=price.amount if price else None,
            pc=price.currency if price else None,
        )
        cid = str(row["id"])
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="course.created",
            target_type="course",
            target_id=cid,
            payload={"course_id": cid, "title": data.title},
        )
    return _course_out(row)


def list_courses(
    *,
    channel_id: str,
    user_id: str | None,
    limit: int,
    cursor: str | None,
    status: str | None = None,
) -> Page[Course]:
    after = _cursor_id(cursor)
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        _channel_exists(tx)
        role = role_of(tx, user_id)
        if not _is_staff(role):
            status = "published"
        rows = tx.all(
            f"SELECT {_COURSE} FROM courses WHERE channel_id = app_channel_id()"
            " AND (CAST(:s AS text) IS NULL OR status = :s)"
            " AND (CAST(:after AS uuid) IS NULL OR id < CAST(:after AS uuid))"
            " ORDER BY id DESC LIMIT :n",
            s=status,
            after=after,
            n=limit + 1,
        )
    return _page([_course_out(r) for r in rows], limit, lambda c: {"id": c["id"]})


def get_course(*, channel_id: str, user_id: str | None, course_id: str) -> CourseDetail:
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        role = role_of(tx, user_id)
        course = _visible_course(tx, course_id, role, user_id)
        with_body = _entitled(tx, course_id, user_id, role)
        lessons = tx.all(
            f"SELECT {_LESSON} FROM lessons WHERE course_id = :c"
            " AND channel_id = app_channel_id() ORDER BY position",
            c=course_id,
        )
    return {
        **_course_out(course),
        "lessons": [_lesson_out(r, with_body=with_body) for r in lessons],
    }


def update_course(*, channel_id: str, user_id: str, course_id: str, patch: CoursePatch) -> Course:
    """Change the fields the patch sets (a null price makes the course free)."""
    changes = patch.model_dump(mode="json", exclude_unset=True)
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "course.write")
        course = _writable_course(tx, course_id)
        sets: list[str] = []
        params: dict[str, Any] = {}
        for name in ("title", "description"):
            if name in changes:
                sets.append(f"{name} = :{name}")
                params[name] = changes[name]
        if "price" in changes:
            price = changes["price"]
            if price and course["status"] == "published":
                _require_payments(tx)
            sets += ["price_amount = :pa", "price_currency = :pc"]
            params.update(
                pa=price["amount"] if price else None, pc=price["currency"] if price else None
            )
        if not sets:
            return _course_out(course)
        row = _returning(
            tx,
            f"UPDATE courses SET {', '.join(sets)}, updated_at = now()"
            f" WHERE id = :id RETURNING {_COURSE}",
            id=course_id,
            **params,
        )
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="course.updated",
            target_type="course",
            target_id=course_id,
            payload={"course_id": course_id, "fields": sorted(changes)},
            details={"fields": sorted(changes)},
        )
    return _course_out(row)


def _require_payments(tx: Tx) -> None:
    if not tx.scalar("SELECT charges_enabled FROM channels WHERE id = app_channel_id()"):
        raise Conflict(
            "This channel cannot take payments yet: finish payout onboarding "
            "before publishing a priced course.",
            reasons=[{"code": "payments_not_enabled"}],
        )


def publish_course(*, channel_id: str, user_id: str, course_id: str) -> Course:
    """Publish a draft or reopen an archived course; 409 with the reasons when a video lesson
    has no ready video, when a priced course's channel cannot take payments, or when the
    plan's limit is reached."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "course.publish")
        # One publish at a time per channel, so two cannot both squeeze under the plan limit.
        channel = _returning(
            tx, "SELECT charges_enabled FROM channels WHERE id = app_channel_id() FOR NO KEY UPDATE"
        )
        course = _course_for_update(tx, course_id)
        if course["status"] == "published":
            return _course_out(course)  # publishing twice changes nothing
        waiting = tx.all(
            "SELECT id, title FROM lessons WHERE course_id = :c AND kind = 'video'"
            " AND (status <> 'ready' OR video_object IS NULL OR duration_seconds IS NULL)"
            " ORDER BY position",
            c=course_id,
        )
        reasons = publish_blockers(
            waiting=[(str(w["id"]), w["title"]) for w in waiting],
            priced=course["price_amount"] is not None,
            charges_enabled=bool(channel["charges_enabled"]),
        )
        if reasons:
            raise Conflict(
                "The course cannot be published yet: " + "; ".join(r["msg"] for r in reasons) + ".",
                reasons=reasons,
            )
        published = tx.scalar(
            "SELECT count(*) FROM courses WHERE channel_id = app_channel_id()"
            " AND status = 'published'"
        )
        billing.assert_can_publish(tx, published_count=int(published))
        row = _returning(
            tx,
            f"UPDATE courses SET status = 'published', published_at = now(),"
            f" updated_at = now() WHERE id = :id RETURNING {_COURSE}",
            id=course_id,
        )
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="course.published",
            target_type="course",
            target_id=course_id,
            payload={
                "course_id": course_id,
                "title": row["title"],
                "price": _course_out(row)["price"],
            },
        )
    return _course_out(row)


def archive_course(*, channel_id: str, user_id: str, course_id: str) -> Course:
    """Retire a course: off the catalogue and public pages, closed to new enrollments and to
    edits; its enrolled students keep their access. Archiving twice changes nothing."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "course.publish")
        course = _course_for_update(tx, course_id)
        if course["status"] == "archived":
            return _course_out(course)
        row = _returning(
            tx,
            f"UPDATE courses SET status = 'archived', updated_at = now() WHERE id = :id"
            f" RETURNING {_COURSE}",
            id=course_id,
        )
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="course.archived",
            target_type="course",
            target_id=course_id,
            payload={"course_id": course_id, "was": course["status"]},
        )
    return _course_out(row)


# -- lessons ------------------------------------------------------------------------------
def create_lesson(*, channel_id: str, user_id: str, course_id: str, data: LessonIn) -> Lesson:
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "course.write")
        _writable_course(tx, course_id)  # row lock: positions are assigned one at a time
        position = tx.scalar(
            "SELECT coalesce(max(position), 0) + 1 FROM lessons WHERE course_id = :c", c=course_id
        )
        row = _returning(
            tx,
            f"INSERT INTO lessons (id, channel_id, course_id, position, title, kind, body, status)"
            f" VALUES (:id, app_channel_id(), :c, :p, :t, :k, :b, :s) RETURNING {_LESSON}",
            id=uuid7(),
            c=course_id,
            p=position,
            t=data.title,
            k=data.kind,
            b=data.body,
            s="pending_media" if data.kind == "video" else "ready",
        )
        lid = str(row["id"])
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="lesson.created",
            target_type="lesson",
            target_id=lid,
            payload={
                "course_id": course_id,
                "lesson_id": lid,
                "kind": data.kind,
                "position": position,
            },
        )
    return _lesson_out(row)


def _lesson_for_update(tx: Tx, course_id: str, lesson_id: str) -> Row:
    row = tx.one(
        f"SELECT {_LESSON} FROM lessons WHERE id = :id AND course_id = :c"
        " AND channel_id = app_channel_id() FOR UPDATE",
        id=_uuid_or_404(lesson_id, "lesson"),
        c=course_id,
    )
    if row is None:
        raise NotFound("No such lesson.")
    return row


def update_lesson(
    *, channel_id: str, user_id: str, course_id: str, lesson_id: str, patch: LessonPatch
) -> Lesson:
    changes = patch.model_dump(mode="json", exclude_unset=True)
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "course.write")
        _writable_course(tx, course_id)
        lesson = _lesson_for_update(tx, course_id, lesson_id)
        fields = [f for f in ("title", "body") if f in changes]
        if not fields:
            return _lesson_out(lesson)
        row = _returning(
            tx,
            f"UPDATE lessons SET {', '.join(f'{f} = :{f}' for f in fields)},"
            f" updated_at = now() WHERE id = :id RETURNING {_LESSON}",
            id=lesson_id,
            **{f: changes[f] for f in fields},
        )
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="lesson.updated",
            target_type="lesson",
            target_id=lesson_id,
            payload={"course_id": course_id, "lesson_id": lesson_id, "fields": fields},
            details={"fields": fields},
        )
    return _lesson_out(row)


def delete_lesson(*, channel_id: str, user_id: str, course_id: str, lesson_id: str) -> None:
    """Delete a lesson with its resources; its media objects are released for media_cleanup."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "course.write")
        _writable_course(tx, course_id)
        lesson_id = _uuid_or_404(lesson_id, "lesson")
        # Uploads before the lesson, the order media_finalized locks them in (no deadlock).
        # A pending upload can never attach to the lesson now, and the resource uploads must
        # not be attached again once their objects are gone: both end rejected.
        uploads = tx.all(
            "UPDATE uploads SET status = 'rejected', reason = 'the lesson was deleted',"
            " finalized_at = coalesce(finalized_at, now())"
            " WHERE channel_id = app_channel_id() AND status <> 'rejected' AND ("
            " (lesson_id = :l AND status = 'pending')"
            " OR id IN (SELECT r.upload_id FROM resources r JOIN lessons l ON l.id = r.lesson_id"
            " WHERE r.lesson_id = :l AND l.course_id = :c))"
            " RETURNING object_name",
            l=lesson_id,
            c=course_id,
        )
        lesson = _lesson_for_update(tx, course_id, lesson_id)
        thumbnail = tx.scalar("SELECT thumbnail_object FROM lessons WHERE id = :id", id=lesson_id)
        resources = tx.all(
            "SELECT object_name FROM resources WHERE lesson_id = :l AND object_name IS NOT NULL",
            l=lesson_id,
        )
        tx.exec("DELETE FROM lessons WHERE id = :id", id=lesson_id)  # resources cascade
        # Close the gap; the (course_id, position) key is checked at commit.
        tx.exec(
            "UPDATE lessons SET position = position - 1 WHERE course_id = :c AND position > :p",
            c=course_id,
            p=lesson["position"],
        )
        tx.exec("UPDATE courses SET updated_at = now() WHERE id = :c", c=course_id)
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="lesson.deleted",
            target_type="lesson",
            target_id=lesson_id,
            payload={"course_id": course_id, "lesson_id": lesson_id},
            details={"title": lesson["title"], "video_object": lesson["video_object"]},
        )
        media.release_media(
            tx,
            channel_id=channel_id,
            objects=[
                lesson["video_object"],
                thumbnail,
                *(r["object_name"] for r in resources),
                *(u["object_name"] for u in uploads),
            ],
            reason="lesson.deleted",
        )


def reorder_lessons(
    *, channel_id: str, user_id: str, course_id: str, lesson_ids: list[str]
) -> Page[Lesson]:
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "course.write")
        _writable_course(tx, course_id)
        current = tx.all(
            "SELECT id FROM lessons WHERE course_id = :c ORDER BY position", c=course_id
        )
        if sorted(str(r["id"]) for r in current) != sorted(lesson_ids):
            raise Unprocessable(
                "List every lesson of the course exactly once.",
                errors=[
                    {
                        "loc": ["body", "lesson_ids"],
                        "msg": "must be a permutation of the course's lesson ids",
                    }
                ],
            )
        # An empty list (a course without lessons) is already in order; pg8000 cannot type an
        # empty array parameter, so it must not reach the statement.
        if lesson_ids:
            tx.exec(
                "UPDATE lessons l SET position = o.pos, updated_at = now()"
                " FROM unnest(CAST(:ids AS uuid[])) WITH ORDINALITY AS o(id, pos)"
                " WHERE l.id = o.id AND l.course_id = :c AND l.position <> o.pos",
                ids=lesson_ids,
                c=course_id,
            )
        rows = tx.all(
            f"SELECT {_LESSON} FROM lessons WHERE course_id = :c ORDER BY position", c=course_id
        )
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="lessons.reordered",
            target_type="course",
            target_id=course_id,
            payload={"course_id": course_id, "lesson_ids": lesson_ids},
        )
    return {"items": [_lesson_out(r) for r in rows], "next_cursor": None}


# -- batches ------------------------------------------------------------------------------
def create_batch(*, channel_id: str, user_id: str, course_id: str, data: BatchIn) -> Batch:
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "batch.write")
        _writable_course(tx, course_id)
        row = _returning(
            tx,
            f"INSERT INTO batches (id, channel_id, course_id, name, starts_at, ends_at, capacity)"
            f" VALUES (:id, app_channel_id(), :c, :n, :s, :e, :cap) RETURNING {_BATCH}",
            id=uuid7(),
            c=course_id,
            n=data.name,
            s=data.starts_at,
            e=data.ends_at,
            cap=data.capacity,
        )
        bid = str(row["id"])
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="batch.created",
            target_type="batch",
            target_id=bid,
            payload={
                "course_id": course_id,
                "batch_id": bid,
                "starts_at": row["starts_at"].isoformat(),
                "capacity": data.capacity,
            },
        )
    return _batch_out(row)


def list_batches(
    *, channel_id: str, user_id: str | None, course_id: str, limit: int, cursor: str | None
) -> Page[Batch]:
    after = _cursor_id(cursor)
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        _visible_course(tx, course_id, role_of(tx, user_id), user_id)
        rows = tx.all(
            f"SELECT {_BATCH} FROM batches WHERE course_id = :c AND channel_id = app_channel_id()"
            " AND (CAST(:after AS uuid) IS NULL OR id > CAST(:after AS uuid))"
            " ORDER BY id LIMIT :n",
            c=course_id,
            after=after,
            n=limit + 1,
        )
    return _page([_batch_out(r) for r in rows], limit, lambda b: {"id": b["id"]})


def _batch_row(tx: Tx, batch_id: str, *, lock: bool = False) -> Row:
    row = tx.one(
        f"SELECT {_BATCH} FROM batches WHERE id = :id AND channel_id = app_channel_id()"
        + (" FOR NO KEY UPDATE" if lock else ""),
        id=_uuid_or_404(batch_id, "batch"),
    )
    if row is None:
        raise NotFound("No such batch.")
    return row


def get_batch(*, channel_id: str, user_id: str | None, batch_id: str) -> Batch:
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        row = _batch_row(tx, batch_id)
        try:
            _visible_course(tx, str(row["course_id"]), role_of(tx, user_id), user_id)
        except NotFound as e:
            raise NotFound("No such batch.") from e
    return _batch_out(row)


def update_batch(*, channel_id: str, user_id: str, batch_id: str, patch: BatchPatch) -> Batch:
    changes = patch.model_dump(exclude_unset=True)
    try:
        with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
            require(tx, user_id, "batch.write")
            batch = _batch_row(tx, batch_id, lock=True)
            fields = [f for f in ("name", "starts_at", "ends_at", "capacity") if f in changes]
            if not fields:
                return _batch_out(batch)
            merged: dict[str, Any] = {**batch, **{f: changes[f] for f in fields}}
            if merged["ends_at"] is not None and merged["ends_at"] <= merged["starts_at"]:
                raise Unprocessable(
                    "ends_at must be after starts_at.",
                    errors=[{"loc": ["body", "ends_at"], "msg": "must be after starts_at"}],
                )
            if merged["capacity"] is not None and merged["capacity"] < batch["seats_taken"]:
                raise Conflict(
                    f"{batch['seats_taken']} seats are already taken; the capacity"
                    " cannot go below that."
                )
            row = _returning(
                tx,
                f"UPDATE batches SET {', '.join(f'{f} = :{f}' for f in fields)}"
                f" WHERE id = :id RETURNING {_BATCH}",
                id=batch_id,
                **{f: changes[f] for f in fields},
            )
            audit.record_change(
                tx,
                channel_id=channel_id,
                actor_user_id=user_id,
                action="batch.updated",
                target_type="batch",
                target_id=batch_id,
                payload={
                    "batch_id": batch_id,
                    "course_id": str(row["course_id"]),
                    "fields": fields,
                },
                details={"fields": fields},
            )
    except DatabaseError as e:
        if sqlstate(e) == CHECK_VIOLATION:  # seats taken concurrently above the new capacity
            raise Conflict("The capacity cannot go below the seats already taken.") from e
        raise
    return _batch_out(row)


# -- resources ----------------------------------------------------------------------------
def create_resource(*, channel_id: str, user_id: str, course_id: str, data: ResourceIn) -> Resource:
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "course.write")
        _writable_course(tx, course_id)
        lesson_id = str(data.lesson_id) if data.lesson_id else None
        if (
            lesson_id
            and tx.scalar(
                "SELECT 1 FROM lessons WHERE id = :l AND course_id = :c", l=lesson_id, c=course_id
            )
            is None
        ):
            raise NotFound("No such lesson in this course.")
        upload = tx.one(
            "SELECT id, purpose, status, course_id, lesson_id, object_name, content_type,"
            " size_bytes FROM uploads WHERE id = :u AND channel_id = app_channel_id()"
            " FOR UPDATE",
            u=str(data.upload_id),
        )
        if upload is None:
            raise NotFound("No such upload.")
        if upload["purpose"] != "resource":
            raise Conflict("Only uploads made with purpose 'resource' can become resources.")
        if upload["status"] == "rejected":
            raise Conflict("That upload was rejected.")
        if upload["course_id"] is not None and str(upload["course_id"]) != course_id:
            raise Conflict("That upload belongs to another course.")
        if tx.scalar("SELECT 1 FROM resources WHERE upload_id = :u", u=str(data.upload_id)):
            raise Conflict("That upload is already attached as a resource.")
        ready = upload["status"] == "ready"
        row = _returning(
            tx,
            f"INSERT INTO resources (id, channel_id, course_id, lesson_id, title, upload_id,"
            f" object_name, content_type, size_bytes) VALUES (:id, app_channel_id(), :c, :l, :t,"
            f" :u, :o, :ct, :s) RETURNING {_RESOURCE}",
            id=uuid7(),
            c=course_id,
            l=lesson_id,
            t=data.title,
            u=str(data.upload_id),
            o=upload["object_name"] if ready else None,
            ct=upload["content_type"] if ready else None,
            s=upload["size_bytes"] if ready else None,
        )
        rid = str(row["id"])
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="resource.created",
            target_type="resource",
            target_id=rid,
            payload={"course_id": course_id, "lesson_id": lesson_id, "resource_id": rid},
        )
    return _resource_out(row)


def list_resources(
    *, channel_id: str, user_id: str | None, course_id: str, limit: int, cursor: str | None
) -> Page[Resource]:
    after = _cursor_id(cursor)
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        _visible_course(tx, course_id, role_of(tx, user_id), user_id)
        rows = tx.all(
            f"SELECT {_RESOURCE} FROM resources WHERE course_id = :c"
            " AND channel_id = app_channel_id()"
            " AND (CAST(:after AS uuid) IS NULL OR id > CAST(:after AS uuid))"
            " ORDER BY id LIMIT :n",
            c=course_id,
            after=after,
            n=limit + 1,
        )
    return _page([_resource_out(r) for r in rows], limit, lambda r: {"id": r["id"]})


def delete_resource(*, channel_id: str, user_id: str, resource_id: str) -> None:
    """Delete a resource; its file is released for media_cleanup."""
    with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
        require(tx, user_id, "course.write")
        resource_id = _uuid_or_404(resource_id, "resource")
        # The upload first (media_finalized's lock order), and rejected: attaching it again
        # would point a new resource at an object that is about to be deleted.
        upload = tx.one(
            "UPDATE uploads SET status = 'rejected', reason = 'the resource was deleted',"
            " finalized_at = coalesce(finalized_at, now())"
            " WHERE id = (SELECT upload_id FROM resources WHERE id = :id"
            " AND channel_id = app_channel_id()) RETURNING object_name",
            id=resource_id,
        )
        row = tx.one(
            "DELETE FROM resources WHERE id = :id AND channel_id = app_channel_id()"
            " RETURNING course_id, title, object_name",
            id=resource_id,
        )
        if row is None:
            raise NotFound("No such resource.")
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=user_id,
            action="resource.deleted",
            target_type="resource",
            target_id=resource_id,
            payload={"course_id": str(row["course_id"]), "resource_id": resource_id},
            details={"title": row["title"]},
        )
        media.release_media(
            tx,
            channel_id=channel_id,
            objects=[row["object_name"], upload["object_name"] if upload else None],
            reason="resource.deleted",
        )
