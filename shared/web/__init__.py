"""The HTTP side of every function: routing, problem+json, idempotency, the OpenAPI
document, and the decoder of Pub/Sub push, CloudEvent and Cloud Tasks envelopes."""

from shared.platform.models import ListQuery, Model, Out
from shared.web.api import Api, Ctx

__all__ = [
    "Api",
    "Ctx",
    "ListQuery",
    "Model",
    "Out",
]
