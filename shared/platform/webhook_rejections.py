"""Inbound webhook deliveries that fail verification, counted without a write per request.

The same scheme as the Stripe webhook (shared/billing/stripe_events.py, issue 16): each
rejection is one log line carrying `metric: webhook_rejected` (the log-based metric of
terraform/monitoring.tf counts them, by provider and reason), and at most one audit row per
`every` seconds per process records how many were refused since the last one, so an
unauthenticated flood can neither grow a table nor queue on the platform audit chain.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from shared.platform import audit
from shared.platform.db import transaction

REJECTED_METRIC = "webhook_rejected"
AUDIT_SAMPLE_SECONDS = 60.0
log = logging.getLogger("webhook_rejections")


class RejectionSampler:
    """Counts rejections; answers how many to audit when a sample is due."""

    def __init__(
        self, every: float = AUDIT_SAMPLE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.every, self.clock = every, clock
        self._lock = threading.Lock()
        self._next: float | None = None
        self._since = 0

    def take(self) -> int | None:
        """Count one rejection; the number to audit now (this one included), or None."""
        with self._lock:
            self._since += 1
            now = self.clock()
            if self._next is not None and now < self._next:
                return None
            self._next, count, self._since = now + self.every, self._since, 0
            return count


samplers: dict[str, RejectionSampler] = {}
_samplers_lock = threading.Lock()


def sampler(provider: str) -> RejectionSampler:
    with _samplers_lock:
        return samplers.setdefault(provider, RejectionSampler())


def reject(*, provider: str, reason: str) -> None:
    """Log (and maybe sample into the audit chain) a delivery that failed verification."""
    log.warning(
        "rejected %s webhook: %s",
        provider,
        reason,
        extra={"fields": {"metric": REJECTED_METRIC, "provider": provider, "reason": reason}},
    )
    count = sampler(provider).take()
    if count is None:
        return
    with transaction() as tx:
        audit.record(
            tx,
            action="webhook.rejected",
            channel_id=None,
            actor_user_id=None,
            target_type="webhook",
            target_id=provider,
            details={"reason": reason, "rejected_since_last_sample": count},
        )
