"""Platform plans a channel subscribes to: the one table of limits, and its enforcement.

Every limit a plan sets lives in `PLANS`: published courses, the platform fee taken from each
course sale (a percentage in basis points plus a fixed part), recording retention, and the
monthly price the channel pays for the plan (Stripe Billing subscription, see shared/billing.py).
Money is integer minor units.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.platform.db import Tx
from shared.platform.errors import Conflict


@dataclass(frozen=True)
class Plan:
    key: str
    max_published_courses: int | None  # None = unlimited
    fee_percent_bps: int  # platform fee, basis points of the charge
    fee_fixed_minor: int  # plus a fixed part, in minor units
    recording_retention_days: int
    monthly_price_minor: int = 0  # what the channel pays per month (0 = free plan)
    currency: str = "usd"
    name: str = ""


PLANS: dict[str, Plan] = {
    "free": Plan("free", 3, 1000, 30, 30, 0, "usd", "Free"),
    "pro": Plan("pro", 50, 500, 30, 180, 2900, "usd", "Pro"),
    "business": Plan("business", None, 200, 0, 365, 9900, "usd", "Business"),
}
FREE = "free"


def get_plan(key: str) -> Plan:
    """The plan called `key`; an unknown key counts as free (never a paid limit by accident)."""
    return PLANS.get(key, PLANS[FREE])


def plan_of(tx: Tx) -> Plan:
    """The plan in force for the transaction's channel (a canceled plan counts as free).

    A channel in `grace` (its last plan invoice failed, Stripe is retrying) keeps its plan
    until Stripe gives up and cancels the subscription.
    """
    row = tx.one("SELECT plan, plan_status FROM channels WHERE id = app_channel_id()")
    if row is None or row["plan_status"] == "canceled":
        return PLANS[FREE]
    return get_plan(row["plan"])


def platform_fee(plan: Plan, amount_minor: int) -> int:
    """Integer fee in minor units: percentage rounded half up, plus the fixed part, capped."""
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or amount_minor < 0:
        raise ValueError("amount_minor must be a non-negative int (minor units)")
    fee = (amount_minor * plan.fee_percent_bps + 5000) // 10000 + plan.fee_fixed_minor
    return min(fee, amount_minor)


def assert_can_publish(tx: Tx, *, published_count: int) -> None:
    """Raise 409 when publishing one more course would exceed the channel's plan."""
    plan = plan_of(tx)
    if plan.max_published_courses is not None and published_count >= plan.max_published_courses:
        raise Conflict(
            f"The {plan.key} plan allows {plan.max_published_courses} published courses; "
            "upgrade the channel's plan to publish more."
        )


def plan_out(plan: Plan) -> dict:
    """The public description of a plan (GET /v1/plans)."""
    return {
        "key": plan.key,
        "name": plan.name or plan.key.title(),
        "price": {"amount": plan.monthly_price_minor, "currency": plan.currency},
        "interval": "month",
        "limits": {
            "max_published_courses": plan.max_published_courses,
            "recording_retention_days": plan.recording_retention_days,
        },
        "platform_fee": {
            "percent_bps": plan.fee_percent_bps,
            "fixed": {"amount": plan.fee_fixed_minor, "currency": plan.currency},
        },
    }
