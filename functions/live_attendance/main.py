"""HTTP route family: attendance of a batch's live classes (staff only), computed from the
participant events Zoom's webhooks delivered."""

import functions_framework
from flask import Response

from shared import live
from shared.live.schemas import AttendanceList, BatchAttendance
from shared.web import Api, Ctx

api = Api("live_attendance", tag="Live classes")
B = "/v1/channels/{channel_id}/batches/{batch_id}"
ERRORS = {
    403: "Only staff of the channel read attendance",
    404: "No such channel, batch or session",
}
CSV = {"type": "string", "contentMediaType": "text/csv"}


def _ids(ctx: Ctx) -> dict[str, str]:
    return {
        "channel_id": ctx.params["channel_id"],
        "user_id": ctx.require_user(),
        "batch_id": ctx.params["batch_id"],
    }


@api.route(
    "GET",
    B + "/sessions/{session_id}/attendance",
    response=AttendanceList,
    errors=ERRORS,
    summary="Each student's attended seconds and flag for one live class, then the guests",
)
def session_attendance(ctx: Ctx):
    return live.session_attendance(**_ids(ctx), session_id=ctx.params["session_id"])


@api.route(
    "GET",
    B + "/attendance",
    response=BatchAttendance,
    errors=ERRORS,
    summary="Attendance rate per live class and per student of the batch",
)
def batch_attendance(ctx: Ctx):
    return live.batch_attendance(**_ids(ctx))


@api.route(
    "GET",
    B + "/attendance.csv",
    content_type="text/csv",
    response=CSV,
    errors=ERRORS,
    summary="Attendance as CSV: one row per student and live class",
)
def batch_attendance_csv(ctx: Ctx) -> Response:
    out = live.batch_attendance_csv(**_ids(ctx))
    return Response(
        out["body"],
        status=200,
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{out["filename"]}"',
            "Cache-Control": "private, no-store",
        },
    )


handle_live_attendance = functions_framework.http(api)
