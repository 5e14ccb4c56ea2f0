"""Stripe webhook: verifies the signature over the raw body, then applies the event once."""

import functions_framework

from shared import stripe_events
from shared.http import Api, Ctx
from shared.schemas.billing import WebhookAck

api = Api("stripe_webhook", tag="Payments")


@api.route(
    "POST",
    "/v1/webhooks/stripe",
    auth="none",
    raw_body=True,
    response=WebhookAck,
    summary="Stripe events (signed with the endpoint secret)",
    errors={400: "Bad or stale signature, or not a Stripe event"},
)
def on_event(ctx: Ctx):
    return stripe_events.handle(
        payload=ctx.raw, signature=ctx.request.headers.get("Stripe-Signature")
    )


on_stripe_event = functions_framework.http(api)
