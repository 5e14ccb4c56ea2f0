"""HTTP route family: courses, their ordered lessons, batches (cohorts) with their live
classes, and resources."""

import functions_framework

from shared import catalog, live
from shared.catalog import schemas as s
from shared.live import schemas as ls
from shared.web import Api, Ctx, ListQuery

api = Api("courses", tag="Courses")
C = "/v1/channels/{channel_id}"
CO = C + "/courses/{course_id}"
HIDDEN = {404: "No such channel or course (or not visible to the caller)"}
WRITE = {403: "Instructor or above only", **HIDDEN, 409: "The course is archived"}
# Refusals no schema can express (issue 17): documented with the 422 that carries them.
IN_THE_PAST = "Validation failed, or a start in the past"
BATCH_DATES = "Validation failed, or an `ends_at` that is not after `starts_at`"


def _ids(ctx: Ctx) -> dict:
    """The path ids and the caller, keyword-ready for the use case."""
    return {**ctx.params, "user_id": ctx.user_id}


@api.route(
    "POST",
    C + "/courses",
    body=s.CourseIn,
    status=201,
    response=s.CourseOut,
    idempotent=True,
    summary="Create a draft course (instructor and above)",
    errors=WRITE,
)
def create_course(ctx: Ctx):
    return catalog.create_course(**_ids(ctx), data=ctx.body)


@api.route(
    "GET",
    C + "/courses",
    query=s.CourseListQuery,
    response=s.CourseList,
    auth="optional",
    summary="List courses; students and the public see published ones",
    errors={404: "No such channel"},
)
def list_courses(ctx: Ctx):
    q = ctx.query
    return catalog.list_courses(**_ids(ctx), limit=q.limit, cursor=q.cursor, status=q.status)


@api.route(
    "GET",
    CO,
    response=s.CourseDetail,
    auth="optional",
    errors=HIDDEN,
    summary="A course with its lessons in order (drafts: staff only)",
)
def get_course(ctx: Ctx):
    return catalog.get_course(**_ids(ctx))


@api.route(
    "PATCH",
    CO,
    body=s.CoursePatch,
    response=s.CourseOut,
    errors={
        **WRITE,
        409: "Archived, or a price on a published course of a channel without payments",
    },
    summary="Edit title, description or price",
)
def update_course(ctx: Ctx):
    return catalog.update_course(**_ids(ctx), patch=ctx.body)


@api.route(
    "POST",
    CO + "/publish",
    response=s.CourseOut,
    summary="Publish a course (also reopens an archived one)",
    errors={
        **WRITE,
        409: "A video lesson has no ready video, the channel cannot take payments for a "
        "priced course, or the plan's published-course limit is reached "
        "(`reasons` lists why)",
    },
)
def publish_course(ctx: Ctx):
    return catalog.publish_course(**_ids(ctx))


@api.route(
    "POST",
    CO + "/archive",
    response=s.CourseOut,
    summary="Archive a course: off the catalogue, closed to new students and edits; enrolled "
    "students keep access",
    errors={403: "Instructor or above only", **HIDDEN},
)
def archive_course(ctx: Ctx):
    return catalog.archive_course(**_ids(ctx))


@api.route(
    "POST",
    CO + "/lessons",
    body=s.LessonIn,
    status=201,
    response=s.LessonOut,
    idempotent=True,
    errors=WRITE,
    summary="Add a lesson at the end; a video lesson is pending_media until its video is ready",
)
def create_lesson(ctx: Ctx):
    return catalog.create_lesson(**_ids(ctx), data=ctx.body)


@api.route(
    "POST",
    CO + "/lessons/order",
    body=s.LessonOrder,
    response=s.LessonList,
    errors={**WRITE, 422: "Not every lesson listed exactly once"},
    summary="Reorder the lessons: list every lesson id in the new order",
)
def reorder_lessons(ctx: Ctx):
    ids = [str(i) for i in ctx.body.lesson_ids]
    return catalog.reorder_lessons(**_ids(ctx), lesson_ids=ids)


@api.route(
    "PATCH",
    CO + "/lessons/{lesson_id}",
    body=s.LessonPatch,
    response=s.LessonOut,
    errors=WRITE,
    summary="Edit a lesson's title or body",
)
def update_lesson(ctx: Ctx):
    return catalog.update_lesson(**_ids(ctx), patch=ctx.body)


@api.route(
    "DELETE",
    CO + "/lessons/{lesson_id}",
    status=204,
    errors=WRITE,
    summary="Delete a lesson; later lessons move up",
)
def delete_lesson(ctx: Ctx):
    catalog.delete_lesson(**_ids(ctx))


@api.route(
    "POST",
    CO + "/batches",
    body=s.BatchIn,
    status=201,
    response=s.BatchOut,
    idempotent=True,
    errors={**WRITE, 422: BATCH_DATES},
    summary="Open a batch (a cohort) of the course",
)
def create_batch(ctx: Ctx):
    return catalog.create_batch(**_ids(ctx), data=ctx.body)


@api.route(
    "GET",
    CO + "/batches",
    query=ListQuery,
    response=s.BatchList,
    auth="optional",
    errors=HIDDEN,
    summary="The course's batches",
)
def list_batches(ctx: Ctx):
    return catalog.list_batches(**_ids(ctx), limit=ctx.query.limit, cursor=ctx.query.cursor)


@api.route(
    "GET",
    C + "/batches/{batch_id}",
    response=s.BatchOut,
    auth="optional",
    errors=HIDDEN,
    summary="A batch",
)
def get_batch(ctx: Ctx):
    return catalog.get_batch(**_ids(ctx))


@api.route(
    "PATCH",
    C + "/batches/{batch_id}",
    body=s.BatchPatch,
    response=s.BatchOut,
    errors={**WRITE, 409: "Capacity below the seats already taken", 422: BATCH_DATES},
    summary="Edit a batch's name, dates or capacity",
)
def update_batch(ctx: Ctx):
    return catalog.update_batch(**_ids(ctx), patch=ctx.body)


SESSIONS = C + "/batches/{batch_id}/sessions"
PROVIDER_DOWN = {
    502: "The live provider (Zoom) refused or failed; nothing was stored",
    503: "The live provider is rate limiting or unreachable; retry after Retry-After",
}
SEES = {
    403: "Only staff and students of this batch see its live classes",
    404: "No such channel, batch or session (or not visible to the caller)",
}


@api.route(
    "POST",
    SESSIONS,
    body=s.LiveSessionIn,
    status=201,
    response=ls.LiveSessionOut,
    idempotent=True,
    errors={
        **WRITE,
        **PROVIDER_DOWN,
        409: "The course is archived, or the channel has no Zoom account connected",
        422: IN_THE_PAST,
    },
    summary="Schedule a live class of the batch under the channel's own Zoom account",
)
def schedule_live_session(ctx: Ctx):
    return live.schedule_session(**_ids(ctx), data=ctx.body)


@api.route(
    "GET",
    SESSIONS,
    query=ListQuery,
    response=ls.LiveSessionList,
    errors=SEES,
    summary="The batch's live classes in schedule order (join links: staff and its students)",
)
def list_live_sessions(ctx: Ctx):
    q = ctx.query
    return live.list_sessions(**_ids(ctx), limit=q.limit, cursor=q.cursor)


@api.route(
    "GET",
    SESSIONS + "/{session_id}",
    response=ls.LiveSessionOut,
    errors=SEES,
    summary="A live class of the batch",
)
def get_live_session(ctx: Ctx):
    """A cancelled class (DELETE) stays readable, with status `cancelled`."""
    return live.get_session(**_ids(ctx))


@api.route(
    "PATCH",
    SESSIONS + "/{session_id}",
    body=s.LiveSessionPatch,
    response=ls.LiveSessionOut,
    errors={
        **WRITE,
        409: "The class is cancelled, or its meeting no longer exists at the provider",
        **PROVIDER_DOWN,
        422: IN_THE_PAST,
    },
    summary="Reschedule or rename a live class (at the provider, then here)",
)
def reschedule_live_session(ctx: Ctx):
    return live.reschedule_session(**_ids(ctx), data=ctx.body)


@api.route(
    "DELETE",
    SESSIONS + "/{session_id}",
    status=204,
    errors={**WRITE, **PROVIDER_DOWN},
    summary="Cancel a live class: its meeting is deleted at the provider",
)
def cancel_live_session(ctx: Ctx):
    live.cancel_session(**_ids(ctx))


@api.route(
    "POST",
    SESSIONS + "/{session_id}/start",
    response=ls.StartLink,
    errors={
        403: "Only the class's instructor, owners and admins may start it",
        404: "No such channel, batch or session (or not visible to the caller)",
        409: "The class is cancelled, its meeting is gone, or its Zoom account is disconnected",
        **PROVIDER_DOWN,
    },
    summary="The host's start link, fetched fresh from Zoom (never stored)",
)
def start_live_session(ctx: Ctx):
    """Not idempotency-keyed on purpose: the link carries the host's key and must never be
    kept, not even in the idempotency store."""
    return live.start_session(**_ids(ctx))


@api.route(
    "POST",
    SESSIONS + "/{session_id}/join",
    response=ls.JoinLink,
    errors={
        403: "Only active students of this batch and staff may join",
        404: "No such channel, batch or session (or not visible to the caller)",
        409: "The class is cancelled",
    },
    summary="The join link of a live class; records that the caller asked to join",
)
def join_live_session(ctx: Ctx):
    return live.join_session(**_ids(ctx))


ZOOM = C + "/integrations/zoom"


@api.route(
    "POST",
    ZOOM,
    response=ls.ZoomConnectLink,
    errors={403: "Owners and admins only", 404: "No such channel"},
    summary="Connect the channel's own Zoom account: answers Zoom's authorization page",
)
def connect_zoom(ctx: Ctx):
    return live.connect_zoom(**_ids(ctx))


@api.route(
    "GET",
    ZOOM,
    response=ls.ZoomConnection,
    errors={403: "Staff only", 404: "No such channel"},
    summary="Whether the channel has its Zoom account connected, and which",
)
def get_zoom_connection(ctx: Ctx):
    return live.zoom_connection(**_ids(ctx))


@api.route(
    "DELETE",
    ZOOM,
    status=204,
    errors={403: "Owners and admins only", 404: "No such channel", **PROVIDER_DOWN},
    summary="Disconnect the channel's Zoom account: tokens revoked at Zoom and erased",
)
def disconnect_zoom(ctx: Ctx):
    live.disconnect_zoom(**_ids(ctx))


@api.route(
    "GET",
    "/v1/integrations/zoom/callback",
    query=ls.ZoomCallbackQuery,
    response=ls.ZoomConnected,
    auth="none",
    errors={
        400: "The authorization link is invalid, expired or already used, or Zoom declined"
        " (`state` is opaque and signed: only the one the connect step issued is accepted)",
        409: "Zoom refused the authorization code",
        **PROVIDER_DOWN,
    },
    summary="Zoom's OAuth redirect back (signed single-use state): stores the connection",
)
def zoom_callback(ctx: Ctx):
    q = ctx.query
    return live.complete_zoom_connection(code=q.code, state=q.state, error=q.error)


@api.route(
    "POST",
    CO + "/resources",
    body=s.ResourceIn,
    status=201,
    response=s.ResourceOut,
    idempotent=True,
    errors={**WRITE, 409: "Not a resource upload, rejected, or taken"},
    summary="Attach an uploaded file (purpose `resource`) to the course or a lesson",
)
def create_resource(ctx: Ctx):
    return catalog.create_resource(**_ids(ctx), data=ctx.body)


@api.route(
    "GET",
    CO + "/resources",
    query=ListQuery,
    response=s.ResourceList,
    auth="optional",
    errors=HIDDEN,
    summary="The course's downloadable resources",
)
def list_resources(ctx: Ctx):
    return catalog.list_resources(**_ids(ctx), limit=ctx.query.limit, cursor=ctx.query.cursor)


@api.route(
    "DELETE", C + "/resources/{resource_id}", status=204, errors=WRITE, summary="Remove a resource"
)
def delete_resource(ctx: Ctx):
    catalog.delete_resource(**_ids(ctx))


handle_courses = functions_framework.http(api)
