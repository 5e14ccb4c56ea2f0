"""Cloud Scheduler cron (daily): cross-check the revenue ledger against the Stripe objects we
recorded (and Stripe's own PaymentIntents when a key is configured), replay deferred events."""

import functions_framework

from shared import ledger, stripe_events
from shared.config import settings
from shared.http import Api, Ctx

api = Api("billing_reconcile", tag="Operations")


@api.route("POST", "/_internal/billing_reconcile", auth="none", summary="Reconcile the ledger")
def reconcile(ctx: Ctx):
    replayed = stripe_events.retry_deferred()
    report = ledger.reconcile_all(check_stripe=settings().stripe_api_key is not None)
    return {"deferred_replayed": replayed, **report}


reconcile_ledger = functions_framework.http(api)
