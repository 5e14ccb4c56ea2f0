"""HTTP route: POST /v1/me/realtime-token, the Firebase custom token a signed-in client uses to
subscribe to the community's realtime projection in Firestore."""

import functions_framework

from shared import realtime
from shared.realtime.schemas import RealtimeToken
from shared.web import Api, Ctx

api = Api("realtime", tag="Community")


@api.route(
    "POST",
    "/v1/me/realtime-token",
    response=RealtimeToken,
    errors={429: "Too many tokens minted by this caller"},
    summary="A Firebase custom token to read the caller's spaces and notifications in Firestore",
)
def realtime_token(ctx: Ctx) -> RealtimeToken:
    return realtime.mint_token(user_id=ctx.require_user())


handle_realtime = functions_framework.http(api)
