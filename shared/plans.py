"""Platform plans a channel subscribes to: the one table of limits, and its enforcement."""

from __future__ import annotations

from dataclasses import dataclass

from shared.db import Tx
from shared.errors import Conflict


@dataclass(frozen=True)
class Plan:
    key: str
    max_published_courses: int | None  # None = unlimited
    fee_percent_bps: int  # platform fee, basis points of the charge
    fee_fixed_minor: int  # plus a fixed part, in minor units
    recording_retention_days: int


PLANS: dict[str, Plan] = {
    "free": Plan("free", 3, 1000, 30, 30),
    "pro": Plan("pro", 50, 500, 30, 180),
    "business": Plan("business", None, 200, 0, 365),
}


def plan_of(tx: Tx) -> Plan:
    """The plan in force for the transaction's channel (a canceled plan counts as free)."""
    row = tx.one("SELECT plan, plan_status FROM channels WHERE id = app_channel_id()")
    if row is None or row["plan_status"] == "canceled":
        return PLANS["free"]
    return PLANS.get(row["plan"], PLANS["free"])


def platform_fee(plan: Plan, amount_minor: int) -> int:
    """Integer fee in minor units: percentage rounded half up, plus the fixed part, capped."""
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
