"""Requests, answers and task bodies of outbound webhooks."""

from __future__ import annotations

from typing import Literal, TypedDict

from pydantic import Field, field_validator

from shared.integrations.rules import EVENT_TYPES, MAX_URL_LENGTH, unknown_events
from shared.platform.models import Model, Out

EndpointStatus = Literal["enabled", "disabled"]
DeliveryStatus = Literal["pending", "succeeded", "failed"]


class WebhookEndpointIn(Model):
    url: str = Field(min_length=8, max_length=MAX_URL_LENGTH, description="https URL")
    events: list[str] = Field(
        min_length=1,
        max_length=50,
        description="Event types to receive: " + ", ".join(EVENT_TYPES),
        json_schema_extra={"items": {"type": "string", "enum": list(EVENT_TYPES)}},
    )

    @field_validator("events")
    @classmethod
    def _known(cls, events: list[str]) -> list[str]:
        unknown = unknown_events(events)
        if unknown:
            raise ValueError(f"unknown event types {unknown}; known: {', '.join(EVENT_TYPES)}")
        return list(dict.fromkeys(events))


class WebhookSecretRotateIn(Model):
    overlap_hours: int = Field(
        default=24,
        ge=0,
        le=72,
        description="How long the previous secret keeps signing deliveries beside the new one",
    )


class WebhookSecretRotatedOut(Out):
    id: str
    secret: str = Field(description="The new `whsec_` secret; shown only in this answer")
    previous_secret_expires_at: str | None


class WebhookEndpointOut(Out):
    id: str
    url: str
    events: list[str]
    status: EndpointStatus
    disabled_reason: str | None
    created_at: str


class WebhookEndpointCreatedOut(WebhookEndpointOut):
    secret: str = Field(description="`whsec_` + base64; shown only in this answer")


class WebhookEndpointList(Out):
    items: list[WebhookEndpointOut]
    next_cursor: str | None


class WebhookDeliveryOut(Out):
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_latency_ms: int | None
    last_error: str | None
    last_attempt_at: str | None
    delivered_at: str | None
    created_at: str


class WebhookDeliveryList(Out):
    items: list[WebhookDeliveryOut]
    next_cursor: str | None


class WebhookReplayOut(Out):
    id: str
    status: DeliveryStatus


class Endpoint(TypedDict):
    """WebhookEndpointOut."""

    id: str
    url: str
    events: list[str]
    status: EndpointStatus
    disabled_reason: str | None
    created_at: str


class EndpointCreated(Endpoint):
    secret: str


class EndpointPage(TypedDict):
    items: list[Endpoint]
    next_cursor: str | None


class Delivery(TypedDict):
    """WebhookDeliveryOut."""

    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_latency_ms: int | None
    last_error: str | None
    last_attempt_at: str | None
    delivered_at: str | None
    created_at: str


class DeliveryPage(TypedDict):
    items: list[Delivery]
    next_cursor: str | None


class Replay(TypedDict):
    id: str
    status: DeliveryStatus


class Rotated(TypedDict):
    id: str
    secret: str
    previous_secret_expires_at: str | None
