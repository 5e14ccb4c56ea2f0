"""The outbox sweeper cron's work, which belongs to no capability: republish the events the
request path left behind and drop expired rows of the global housekeeping tables."""

from __future__ import annotations

from shared.platform import outbox


def run_outbox_sweep() -> dict[str, int]:
    """Republish unpublished outbox events; drop expired rate-limit windows and idempotency
    keys."""
    return {"republished": outbox.sweep(), "expired_rows": outbox.expire_housekeeping()}
