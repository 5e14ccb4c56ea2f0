"""What the operations crons run that belongs to no capability: the outbox sweep with the
housekeeping of expired rows, and whether the Stripe API is configured."""

from __future__ import annotations

from shared.platform import outbox
from shared.platform.config import settings


def run_outbox_sweep() -> dict[str, int]:
    """Republish the events the request path left behind; drop expired rate-limit windows
    and idempotency keys."""
    return {"republished": outbox.sweep(), "expired_rows": outbox.expire_housekeeping()}


def stripe_configured() -> bool:
    """Whether a Stripe API key is set (reconciliation then also asks Stripe itself)."""
    return settings().stripe_api_key is not None
