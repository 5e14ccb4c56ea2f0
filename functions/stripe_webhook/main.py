"""Stripe webhook: verifies the signature over the raw body, then applies the event once."""

import functions_framework

from shared import billing
from shared.billing.schemas import WebhookAck, WebhookReceipt
from shared.web import Api, Ctx

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
def on_event(ctx: Ctx) -> WebhookReceipt:
    return billing.handle_stripe_event(
        payload=ctx.raw, signature=ctx.request.headers.get("Stripe-Signature")
    )


on_stripe_event = functions_framework.http(api)
