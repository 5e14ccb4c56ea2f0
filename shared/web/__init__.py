"""The HTTP side of every function: routing, problem+json, idempotency, the OpenAPI
document, and the decoder of Pub/Sub push, CloudEvent and Cloud Tasks envelopes.

The one surface `functions/*` import besides the capabilities (an import-linter contract
holds them to it). Names are served lazily (shared/platform/exports.py), so an event function
that only calls `setup_logging()` does not load the routing toolkit."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.platform.log import setup as setup_logging
    from shared.platform.models import ListQuery, Model, Out
    from shared.web.api import Api, Ctx
    from shared.web.apidocs import docs_response, openapi_response
    from shared.web.envelopes import Message, cloud_event_data, pubsub_message, task_body
    from shared.web.operations import run_outbox_sweep
    from shared.web.reconcile import stripe_configured

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "Api",
    "Ctx",
    "ListQuery",
    "Message",
    "Model",
    "Out",
    "cloud_event_data",
    "docs_response",
    "openapi_response",
    "pubsub_message",
    "run_outbox_sweep",
    "setup_logging",
    "stripe_configured",
    "task_body",
]
