"""What the ledger reconciliation cron asks of the settings. A module of its own: the infra
tests hold each function to mounting exactly the secrets its reachable modules read."""

from __future__ import annotations

from shared.platform.config import settings


def stripe_configured() -> bool:
    """Whether a Stripe API key is set (reconciliation then also asks Stripe itself)."""
    return settings().stripe_api_key is not None
