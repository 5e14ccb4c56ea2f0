"""Cloud Scheduler cron (daily): cross-check the revenue ledger against the Stripe objects we
recorded (and Stripe's own PaymentIntents when a key is configured), replay deferred events."""

from typing import Any

import functions_framework

from shared import billing
from shared.web import Api, Ctx, stripe_configured

api = Api("billing_reconcile", tag="Operations")


@api.route("POST", "/_internal/billing_reconcile", auth="none", summary="Reconcile the ledger")
def reconcile(ctx: Ctx) -> dict[str, Any]:
    replayed = billing.retry_deferred()
    report = billing.reconcile_all(check_stripe=stripe_configured())
    return {"deferred_replayed": replayed, **report}


reconcile_ledger = functions_framework.http(api)
