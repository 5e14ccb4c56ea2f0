"""Payments through Stripe Connect: payouts onboarding, course checkout, channel plans,
the Stripe webhook, disputes, and the ledger with its reconciliation."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.billing.ledger import reconcile_all
    from shared.billing.plans import assert_can_publish, plan_of
    from shared.billing.rules import (
        FREE,
        PLANS,
        SUPPORTED_CURRENCIES,
        ZERO_DECIMAL,
        UnsupportedCurrency,
        get_plan,
        plan_out,
        platform_fee,
    )
    from shared.billing.service import (
        change_plan,
        create_course_checkout,
        get_channel_plan,
        get_dispute,
        list_disputes,
        list_plans,
        payout_account,
        start_onboarding,
    )
    from shared.billing.stripe_events import handle as handle_stripe_event
    from shared.billing.stripe_events import retry_deferred

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "FREE",
    "PLANS",
    "SUPPORTED_CURRENCIES",
    "ZERO_DECIMAL",
    "UnsupportedCurrency",
    "assert_can_publish",
    "change_plan",
    "create_course_checkout",
    "get_channel_plan",
    "get_dispute",
    "get_plan",
    "handle_stripe_event",
    "list_disputes",
    "list_plans",
    "payout_account",
    "plan_of",
    "plan_out",
    "platform_fee",
    "reconcile_all",
    "retry_deferred",
    "start_onboarding",
]
