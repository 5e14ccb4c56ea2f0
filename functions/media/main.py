"""HTTP route family: uploads straight to storage through V4 signed URLs."""

import functions_framework

from shared import media
from shared.media.schemas import (
    LIMITS,
    UploadData,
    UploadIn,
    UploadOut,
    UploadTicket,
    UploadTicketData,
    describe_limits,
)
from shared.media.schemas import shown_size as _size
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
    summary=f"Get a signed URL to upload a lesson video (MP4 up to "
    f"{_size(LIMITS['lesson_video'].max_bytes)}), a resource (up to "
    f"{_size(LIMITS['resource'].max_bytes)}) or a thumbnail (JPEG/PNG/WebP up to "
    f"{_size(LIMITS['thumbnail'].max_bytes)})",
    errors={
        403: "Instructor or above only",
        404: "No such channel, course or lesson",
        409: "Not a video lesson, the course is archived, or the upload would take the "
        "channel past its plan's storage quota (the answer gives quota_bytes, used_bytes, "
        "requested_bytes)",
        422: "Type or size not allowed for the purpose (limits in the body schema)",
    },
)
def create_upload(ctx: Ctx) -> UploadTicketData:
    return media.create_upload(
        channel_id=ctx.params["channel_id"], user_id=_user(ctx), data=ctx.body
    )


create_upload.__doc__ = (
    "The answer's `url` takes one PUT of the bytes with exactly the answer's `headers` "
    "(content type, exact size, create-only), within 15 minutes. Then storage's finalize "
    "event checks the object and marks the upload `ready` or `rejected` (GET the upload to "
    "see which). Every upload not rejected counts against the channel's storage quota until "
    "its file is deleted or replaced; uploads not attached within a day are swept.\n\n"
    f"What each purpose accepts:\n{describe_limits()}"
)


@api.route(
    "GET",
    C + "/uploads/{upload_id}",
    response=UploadOut,
    summary="An upload's state: pending, ready, or rejected with the reason",
    errors={403: "Instructor or above only", 404: "No such upload"},
)
def get_upload(ctx: Ctx) -> UploadData:
    return media.get_upload(
        channel_id=ctx.params["channel_id"], user_id=_user(ctx), upload_id=ctx.params["upload_id"]
    )


def _user(ctx: Ctx) -> str:
    assert ctx.user_id is not None  # auth="required" (the default) answered 401 otherwise
    return ctx.user_id


handle_media = functions_framework.http(api)
