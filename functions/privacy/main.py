"""HTTP route family: privacy (data exports of a user and of a channel, their status).
Erasure (`DELETE /v1/me`) is served by the auth function, which owns `/v1/me`."""

import functions_framework

from shared import privacy
from shared.privacy.schemas import JobOut, JobStatus
from shared.web import Api, Ctx

api = Api("privacy", tag="Privacy")
C = "/v1/channels/{channel_id}"


@api.route(
    "POST",
    "/v1/me/export",
    status=202,
    response=JobOut,
    summary="Export everything held about me (a ZIP of JSON files); one export runs at a time",
    errors={401: "Sign in first"},
)
def export_me(ctx: Ctx) -> dict[str, str]:
    return privacy.start_user_export(user_id=ctx.require_user())


@api.route(
    "GET",
    "/v1/me/export/{job_id}",
    response=JobStatus,
    summary="State of my export; when ready, a short-lived download URL",
    errors={404: "No such export"},
)
def export_me_status(ctx: Ctx) -> dict:
    return privacy.export_status(user_id=ctx.require_user(), job_id=ctx.params["job_id"])


@api.route(
    "POST",
    C + "/export",
    status=202,
    response=JobOut,
    summary="Export the channel: courses, members, enrollments, posts, revenue (owner)",
    errors={403: "Owner only", 404: "No such channel (or not a member)"},
)
def export_channel(ctx: Ctx) -> dict[str, str]:
    return privacy.start_channel_export(
        channel_id=ctx.params["channel_id"], user_id=ctx.require_user()
    )


@api.route(
    "GET",
    C + "/export/{job_id}",
    response=JobStatus,
    summary="State of a channel export asked for by the caller",
    errors={404: "No such export"},
)
def export_channel_status(ctx: Ctx) -> dict:
    return privacy.export_status(
        user_id=ctx.require_user(),
        job_id=ctx.params["job_id"],
        channel_id=ctx.params["channel_id"],
    )


handle_privacy = functions_framework.http(api)
