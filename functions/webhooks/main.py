"""HTTP route family: a channel's outbound webhook endpoints, their delivery log, replays."""

import functions_framework

from shared import integrations
from shared.integrations.schemas import (
    DeliveryPage,
    EndpointCreated,
    EndpointPage,
    Replay,
    Rotated,
    WebhookDeliveryList,
    WebhookEndpointCreatedOut,
    WebhookEndpointIn,
    WebhookEndpointList,
    WebhookReplayOut,
    WebhookSecretRotatedOut,
    WebhookSecretRotateIn,
)
from shared.web import Api, Ctx, ListQuery

api = Api("webhooks", tag="Webhooks")
C = "/v1/channels/{channel_id}"
DENIED = {403: "Owner or admin only", 404: "No such channel"}


@api.route(
    "POST",
    C + "/webhook-endpoints",
    body=WebhookEndpointIn,
    status=201,
    response=WebhookEndpointCreatedOut,
    idempotent=True,
    summary="Register a webhook endpoint; the answer shows its signing secret once",
    errors={**DENIED, 422: "Not an https URL, a refused address, or an unknown event type"},
)
def create_endpoint(ctx: Ctx) -> EndpointCreated:
    return integrations.create_endpoint(
        channel_id=ctx.params["channel_id"], user_id=ctx.require_user(), data=ctx.body
    )


@api.route(
    "GET",
    C + "/webhook-endpoints",
    query=ListQuery,
    response=WebhookEndpointList,
    summary="List the channel's webhook endpoints (secrets are never listed)",
    errors=DENIED,
)
def list_endpoints(ctx: Ctx) -> EndpointPage:
    return integrations.list_endpoints(
        channel_id=ctx.params["channel_id"],
        user_id=ctx.require_user(),
        limit=ctx.query.limit,
        cursor=ctx.query.cursor,
    )


@api.route(
    "DELETE",
    C + "/webhook-endpoints/{endpoint_id}",
    status=204,
    summary="Delete a webhook endpoint and its delivery log",
    errors={**DENIED, 404: "No such channel or endpoint"},
)
def delete_endpoint(ctx: Ctx) -> None:
    integrations.delete_endpoint(
        channel_id=ctx.params["channel_id"],
        user_id=ctx.require_user(),
        endpoint_id=ctx.params["endpoint_id"],
    )


@api.route(
    "POST",
    C + "/webhook-endpoints/{endpoint_id}/rotate-secret",
    body=WebhookSecretRotateIn,
    response=WebhookSecretRotatedOut,
    summary="Replace the signing secret; the old one also signs during the overlap window",
    errors={**DENIED, 404: "No such channel or endpoint"},
)
def rotate_secret(ctx: Ctx) -> Rotated:
    return integrations.rotate_secret(
        channel_id=ctx.params["channel_id"],
        user_id=ctx.require_user(),
        endpoint_id=ctx.params["endpoint_id"],
        data=ctx.body,
    )


@api.route(
    "GET",
    C + "/webhook-endpoints/{endpoint_id}/deliveries",
    query=ListQuery,
    response=WebhookDeliveryList,
    summary="An endpoint's deliveries, newest first: status, attempts, status code, latency",
    errors={**DENIED, 404: "No such channel or endpoint"},
)
def list_deliveries(ctx: Ctx) -> DeliveryPage:
    return integrations.list_deliveries(
        channel_id=ctx.params["channel_id"],
        user_id=ctx.require_user(),
        endpoint_id=ctx.params["endpoint_id"],
        limit=ctx.query.limit,
        cursor=ctx.query.cursor,
    )


@api.route(
    "POST",
    C + "/webhook-deliveries/{delivery_id}/replay",
    status=202,
    response=WebhookReplayOut,
    summary="Send one delivery again (same webhook-id, fresh signature)",
    errors={**DENIED, 404: "No such channel or delivery", 409: "The endpoint is disabled"},
)
def replay_delivery(ctx: Ctx) -> Replay:
    return integrations.replay_delivery(
        channel_id=ctx.params["channel_id"],
        user_id=ctx.require_user(),
        delivery_id=ctx.params["delivery_id"],
    )


handle_webhooks = functions_framework.http(api)
