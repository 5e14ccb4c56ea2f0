"""Learning use cases: enrolling, listing one's enrollments, playback and resource downloads.

Who may view a lesson: staff of the channel (preview without enrolling) and students with an
active enrollment in its course. Not a member of the channel at all: 404 (existence never
leaks across tenants); a member without an enrollment: 403; a draft course is invisible (404)
to anyone but staff, an archived one to anyone but staff and its enrolled students.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from shared import analytics
from shared.adapters import cdn  # CDN or GCS signed URLs; the storage SDK only for GCS
from shared.channels import POLICY, check_channel_id
from shared.learning import enrollments
from shared.learning.rules import PLAYBACK_URL_TTL, EnrollmentSource
from shared.learning.schemas import EnrollIn
from shared.platform.db import Row, Tx, transaction
from shared.platform.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.platform.ids import is_uuid
from shared.platform.pagination import decode_cursor, page

STAFF_ROLES = sorted(POLICY["lesson.watch_any"])
STAFF_ROLES_LITERAL = "{" + ",".join(STAFF_ROLES) + "}"  # a text[] literal, built once

# The viewing columns every access query selects (`:staff` is STAFF_ROLES_LITERAL): whether
# the caller is staff, and the course-viewing rule, course_viewable() of migration 0026 (the
# SQL copy of shared.catalog.rules.course_viewable; the heartbeat writer calls it too).
VIEWING_COLUMNS = """
       m.role = ANY (CAST(:staff AS text[])) AS staff,
       course_viewable(c.status, m.role = ANY (CAST(:staff AS text[])), e.id IS NOT NULL)
           AS viewable"""

# One round trip: the lesson, its course, the caller's role and active enrollment.
LESSON_ACCESS_SQL = f"""
SELECT l.id AS lesson_id, l.course_id, l.kind, l.status, l.video_object, l.duration_seconds,
       c.status AS course_status, m.role, e.id AS enrollment_id,{VIEWING_COLUMNS}
  FROM (SELECT 1) AS one
  LEFT JOIN memberships m ON m.channel_id = app_channel_id() AND m.user_id = :u
  LEFT JOIN lessons l ON l.id = :l AND l.channel_id = app_channel_id()
  LEFT JOIN courses c ON c.id = l.course_id AND c.channel_id = app_channel_id()
  LEFT JOIN enrollments e ON e.channel_id = app_channel_id() AND e.course_id = l.course_id
        AND e.user_id = :u AND e.status = 'active'
"""


class SignedUrl(TypedDict):
    url: str
    expires_at: datetime


class EnrollmentPage(TypedDict):
    items: list[dict[str, Any]]  # MyEnrollment rows
    next_cursor: str | None


def _first(rows: list[Row]) -> Row | None:
    return rows[0] if rows else None


def authorize_viewer(row: Row | None, *, what: str = "lesson") -> Row:
    """Apply the viewing rule to a row of an access query (VIEWING_COLUMNS); return it when
    allowed: 404 not a member or not viewable, 403 viewable but not enrolled (staff preview)."""
    if row is None or row["role"] is None:
        raise NotFound("No such channel.")
    if row.get("course_id") is None or not row["viewable"]:
        raise NotFound(f"No such {what}.")
    if not row["staff"] and row["enrollment_id"] is None:
        raise Forbidden("Enroll in this course first.")
    return row


def lesson_access(tx: Tx, *, lesson_id: str, user_id: str) -> Row:
    if not is_uuid(lesson_id):
        # Still answer 404 "no such channel" to non-members rather than "no such lesson".
        authorize_viewer(tx.one(LESSON_ACCESS_SQL, u=user_id, l=None, staff=STAFF_ROLES_LITERAL))
        raise NotFound("No such lesson.")
    rows = tx.all(LESSON_ACCESS_SQL, u=user_id, l=lesson_id, staff=STAFF_ROLES_LITERAL)
    return authorize_viewer(_first(rows))


# -- enrollment ------------------------------------------------------------------------------
def enroll(*, channel_id: str, course_id: str, user_id: str, data: EnrollIn) -> Row:
    """Free enrollment by the student themself (402 for a priced course, see enrollments)."""
    check_channel_id(channel_id)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        return enrollments.create_enrollment(
            tx,
            course_id=course_id,
            user_id=user_id,
            batch_id=data.batch_id,
            source=EnrollmentSource.FREE,
        )


def my_enrollments(
    *, user_id: str, limit: int, cursor: str | None, status: str | None = None
) -> EnrollmentPage:
    """The caller's enrollments in every channel, newest first."""
    after = decode_cursor(cursor)
    before_at, before_id = None, None
    if after is not None:
        try:
            before_at = datetime.fromisoformat(str(after["created_at"]).replace("Z", "+00:00"))
            before_id = str(after["id"])
            if not is_uuid(before_id):
                raise ValueError
        except (KeyError, ValueError) as e:
            raise Unprocessable(
                "Invalid cursor.", errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}]
            ) from e
    with transaction(user_id=user_id) as tx:
        rows = tx.all(
            "SELECT e.id, e.channel_id, e.course_id, e.user_id, e.batch_id, e.status, e.source,"
            " e.created_at, e.ended_at, e.completed_at, c.title AS course_title,"
            " ch.slug AS channel_slug, ch.name AS channel_name"
            " FROM enrollments e JOIN channels ch ON ch.id = e.channel_id"
            " LEFT JOIN courses c ON c.id = e.course_id AND c.status = 'published'"
            " WHERE e.user_id = :u AND (CAST(:st AS text) IS NULL OR e.status = :st)"
            " AND (CAST(:ba AS timestamptz) IS NULL"
            "      OR (e.created_at, e.id) < (CAST(:ba AS timestamptz), CAST(:bi AS uuid)))"
            " ORDER BY e.created_at DESC, e.id DESC LIMIT :n",
            u=user_id,
            st=status,
            ba=before_at,
            bi=before_id,
            n=limit + 1,
        )
    items = [_my_enrollment(r) for r in rows]
    more = page(items, limit, lambda r: {"created_at": r["created_at"], "id": r["id"]})
    return {"items": more["items"], "next_cursor": more["next_cursor"]}


def _my_enrollment(r: Row) -> dict[str, Any]:
    out = {
        k: r[k]
        for k in (
            "id",
            "channel_id",
            "course_id",
            "user_id",
            "batch_id",
            "status",
            "source",
            "created_at",
            "ended_at",
            "completed_at",
        )
    }
    title = r["course_title"]
    out["course"] = {"id": r["course_id"], "title": title} if title else None
    out["channel"] = {"id": r["channel_id"], "slug": r["channel_slug"], "name": r["channel_name"]}
    return out


# -- playback and downloads -------------------------------------------------------------------
def playback(*, channel_id: str, lesson_id: str, user_id: str) -> SignedUrl:
    """A short-lived signed GET URL of the lesson's video, for enrolled students and staff."""
    check_channel_id(channel_id)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        row = lesson_access(tx, lesson_id=lesson_id, user_id=user_id)
        if row["kind"] != "video" and not row["video_object"]:
            raise Conflict("This lesson has no video.")
        if row["status"] != "ready" or not row["video_object"]:
            raise Conflict("This lesson's video is not ready yet.")
        analytics.record(
            tx,
            event_type="lesson.playback",
            user_id=user_id,
            metadata={"lesson_id": str(row["lesson_id"]), "course_id": str(row["course_id"])},
        )
    url, expires_at = cdn.signed_media_get_url(
        row["video_object"], expires_seconds=PLAYBACK_URL_TTL
    )
    return {"url": url, "expires_at": expires_at}


RESOURCE_SQL = f"""
SELECT r.id AS resource_id, r.course_id, r.lesson_id, r.title, r.object_name, r.content_type,
       u.filename, u.status AS upload_status, c.status AS course_status, m.role,
       e.id AS enrollment_id,{VIEWING_COLUMNS}
  FROM (SELECT 1) AS one
  LEFT JOIN memberships m ON m.channel_id = app_channel_id() AND m.user_id = :u
  LEFT JOIN resources r ON r.id = :r AND r.channel_id = app_channel_id()
  LEFT JOIN uploads u ON u.id = r.upload_id
  LEFT JOIN courses c ON c.id = r.course_id AND c.channel_id = app_channel_id()
  LEFT JOIN enrollments e ON e.channel_id = app_channel_id() AND e.course_id = r.course_id
        AND e.user_id = :u AND e.status = 'active'
"""


def resource_download(*, channel_id: str, resource_id: str, user_id: str) -> SignedUrl:
    """A signed GET URL of a course resource (as an attachment); each one is an analytics event."""
    check_channel_id(channel_id)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        row = tx.one(
            RESOURCE_SQL,
            u=user_id,
            r=resource_id if is_uuid(resource_id) else None,
            staff=STAFF_ROLES_LITERAL,
        )
        row = authorize_viewer(row, what="resource")
        if not row["object_name"] or row["upload_status"] not in (None, "ready"):
            raise Conflict("This resource's file is not ready yet.")
        analytics.record(
            tx,
            event_type="resource.downloaded",
            user_id=user_id,
            metadata={
                "resource_id": str(row["resource_id"]),
                "course_id": str(row["course_id"]),
                "lesson_id": str(row["lesson_id"]) if row["lesson_id"] else None,
            },
        )
    url, expires_at = cdn.signed_media_get_url(
        row["object_name"],
        expires_seconds=PLAYBACK_URL_TTL,
        filename=row["filename"] or row["title"],
    )
    return {"url": url, "expires_at": expires_at}
