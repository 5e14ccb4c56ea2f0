"""Zoom webhook: verifies Zoom's signature over the raw body, answers the URL challenge, and
records each event once for the channel whose Zoom account owns the meeting."""

import functions_framework

from shared import live
from shared.live.schemas import ZoomWebhookAck
from shared.web import Api, Ctx

api = Api("live_webhook", tag="Live classes")


@api.route(
    "POST",
    "/v1/webhooks/live/zoom",
    auth="none",
    raw_body=True,
    response=ZoomWebhookAck,
    summary="Zoom events and the endpoint.url_validation challenge (signed by the Zoom app)",
    errors={
        400: "A signed request that is not a readable Zoom event",
        401: "Missing, bad or stale (over 300 s) x-zm-signature; nothing written",
    },
)
def receive_zoom_event(ctx: Ctx):
    return live.handle_zoom_webhook(
        body=ctx.raw,
        signature=ctx.request.headers.get("x-zm-signature"),
        timestamp=ctx.request.headers.get("x-zm-request-timestamp"),
    )


on_zoom_event = functions_framework.http(api)
