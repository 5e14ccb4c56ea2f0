"""Integrations: outbound webhooks, signed per the Standard Webhooks spec, fanned out from the
domain events and delivered by a Cloud Tasks worker through an SSRF-checked client."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.integrations.delivery import DeliveryFailed, deliver
    from shared.integrations.fanout import on_domain_event
    from shared.integrations.rules import EVENT_TYPES
    from shared.integrations.service import (
        create_endpoint,
        delete_endpoint,
        list_deliveries,
        list_endpoints,
        replay_delivery,
        rotate_secret,
    )

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "EVENT_TYPES",
    "DeliveryFailed",
    "create_endpoint",
    "delete_endpoint",
    "deliver",
    "list_deliveries",
    "list_endpoints",
    "on_domain_event",
    "replay_delivery",
    "rotate_secret",
]
