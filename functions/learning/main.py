"""HTTP route family: enrollment, playback, resource downloads, watch learning."""

import functions_framework

from shared import learning
from shared.learning.schemas import (
    CourseProgressOut,
    EnrollIn,
    EnrollmentOut,
    HeartbeatIn,
    LessonCompletionOut,
    MyEnrollmentList,
    MyEnrollmentsQuery,
    SignedUrlOut,
)
from shared.web import Api, Ctx

api = Api("learning", tag="Learning")
C = "/v1/channels/{channel_id}"
HIDDEN = {404: "No such channel, course or lesson (or not a member)"}
VIEW = {403: "Not enrolled in this course", **HIDDEN}


@api.route(
    "POST",
    C + "/courses/{course_id}/enroll",
    body=EnrollIn,
    status=201,
    response=EnrollmentOut,
    idempotent=True,
    summary="Enroll in a free course",
    errors={402: "Paid course: checkout_required", 409: "Already enrolled or batch full", **HIDDEN},
)
def enroll(ctx: Ctx):
    return learning.enroll(
        channel_id=ctx.params["channel_id"],
        course_id=ctx.params["course_id"],
        user_id=ctx.require_user(),
        data=ctx.body,
    )


@api.route(
    "GET",
    "/v1/me/enrollments",
    query=MyEnrollmentsQuery,
    response=MyEnrollmentList,
    summary="My enrollments in every channel, newest first",
)
def my_enrollments(ctx: Ctx):
    q = ctx.query
    return learning.my_enrollments(
        user_id=ctx.require_user(), limit=q.limit, cursor=q.cursor, status=q.status
    )


@api.route(
    "GET",
    C + "/lessons/{lesson_id}/playback",
    response=SignedUrlOut,
    errors={409: "No ready video", **VIEW},
    summary="Short-lived signed URL of the lesson's video",
)
def playback(ctx: Ctx):
    return learning.playback(
        channel_id=ctx.params["channel_id"],
        lesson_id=ctx.params["lesson_id"],
        user_id=ctx.require_user(),
    )


@api.route(
    "GET",
    C + "/resources/{resource_id}/download",
    response=SignedUrlOut,
    errors={409: "File not ready", **VIEW},
    summary="Signed URL to download a course resource",
)
def download(ctx: Ctx):
    return learning.resource_download(
        channel_id=ctx.params["channel_id"],
        resource_id=ctx.params["resource_id"],
        user_id=ctx.require_user(),
    )


@api.route(
    "POST",
    C + "/lessons/{lesson_id}/heartbeats",
    body=HeartbeatIn,
    status=204,
    errors={409: "No playable video", 503: "Too many heartbeats waiting to be written", **VIEW},
    summary="Player heartbeat (watch time), written moments later in a batch",
)
def heartbeat(ctx: Ctx):
    learning.accept_heartbeat(
        channel_id=ctx.params["channel_id"],
        lesson_id=ctx.params["lesson_id"],
        user_id=ctx.require_user(),
        beat=ctx.body,
    )


@api.route(
    "POST",
    C + "/lessons/{lesson_id}/complete",
    response=LessonCompletionOut,
    errors={409: "Video lessons complete from watch time", **VIEW},
    summary="Complete a text lesson",
)
def complete(ctx: Ctx):
    return learning.complete_lesson(
        channel_id=ctx.params["channel_id"],
        lesson_id=ctx.params["lesson_id"],
        user_id=ctx.require_user(),
    )


@api.route(
    "GET",
    C + "/courses/{course_id}/progress",
    response=CourseProgressOut,
    errors=VIEW,
    summary="My progress through a course",
)
def course_progress(ctx: Ctx):
    return learning.course_progress(
        channel_id=ctx.params["channel_id"],
        course_id=ctx.params["course_id"],
        user_id=ctx.require_user(),
    )


handle_learning = functions_framework.http(api)
