"""HTTP route family: uploads straight to storage through V4 signed URLs."""

import functions_framework

from shared import media
from shared.media.schemas import UploadIn, UploadOut, UploadTicket
from shared.web import Api, Ctx

api = Api("media", tag="Media")
C = "/v1/channels/{channel_id}"


@api.route(
    "POST",
    C + "/uploads",
    body=UploadIn,
    status=201,
    response=UploadTicket,
    idempotent=True,
    summary="Get a signed URL to upload a lesson video (MP4 up to 5 GiB), a resource "
    "(up to 200 MiB) or a thumbnail (JPEG/PNG/WebP up to 5 MiB)",
    errors={
        403: "Instructor or above only",
        404: "No such channel, course or lesson",
        409: "Not a video lesson, or the course is archived",
        422: "Type or size not allowed for the purpose (limits in the body schema)",
    },
)
def create_upload(ctx: Ctx):
    """The answer's `url` takes one PUT of the bytes with exactly the answer's `headers`
    (content type, exact size, create-only), within 15 minutes. Then storage's finalize event
    checks the object and marks the upload `ready` or `rejected` (GET the upload to see which).

    What each purpose accepts:
    - `lesson_video`: video/mp4 up to 5 GiB, a playable MP4 with a video track; needs
      `lesson_id` of a video lesson; when ready the lesson becomes ready with its duration.
    - `resource`: application/pdf, application/zip, application/epub+zip, text/plain,
      text/csv, text/markdown, image/png, image/jpeg, audio/mpeg up to 200 MiB; needs
      `course_id` or `lesson_id`; attach it with POST .../courses/{course_id}/resources.
    - `thumbnail`: image/jpeg, image/png, image/webp up to 5 MiB; needs `lesson_id` (lesson
      thumbnail) or `course_id` (course cover).
    """
    return media.create_upload(
        channel_id=ctx.params["channel_id"], user_id=ctx.user_id, data=ctx.body
    )


@api.route(
    "GET",
    C + "/uploads/{upload_id}",
    response=UploadOut,
    summary="An upload's state: pending, ready, or rejected with the reason",
    errors={403: "Instructor or above only", 404: "No such upload"},
)
def get_upload(ctx: Ctx):
    return media.get_upload(
        channel_id=ctx.params["channel_id"], user_id=ctx.user_id, upload_id=ctx.params["upload_id"]
    )


handle_media = functions_framework.http(api)
