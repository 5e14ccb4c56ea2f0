"""Platform plans in force: the channel's plan read from its row, and the publishing limit.

The plan table, the fee rule and the public plan shape are pure and live in
shared/billing/rules.py; this module adds the two reads that need the transaction.
"""

from __future__ import annotations

from shared.billing.rules import Plan, plan_in_force, publish_limit_reached
from shared.platform.db import Tx
from shared.platform.errors import Conflict


def plan_of(tx: Tx) -> Plan:
    """The plan in force for the transaction's channel (a canceled plan counts as free)."""
    row = tx.one("SELECT plan, plan_status FROM channels WHERE id = app_channel_id()")
    return plan_in_force(row["plan"] if row else None, row["plan_status"] if row else None)


def assert_can_publish(tx: Tx, *, published_count: int) -> None:
    """Raise 409 when publishing one more course would exceed the channel's plan."""
    plan = plan_of(tx)
    if publish_limit_reached(plan, published_count):
        raise Conflict(
            f"The {plan.key} plan allows {plan.max_published_courses} published courses; "
            "upgrade the channel's plan to publish more."
        )
