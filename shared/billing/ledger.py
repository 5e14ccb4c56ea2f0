"""The revenue ledger: every charge, fee, refund, dispute and plan invoice as an append-only row.

Amounts are signed integer minor units from the channel's point of view:

    sale          +amount of a paid course checkout (gross, what the buyer paid)
    platform_fee  -application_fee_amount the platform kept from that sale
    refund        -each refunded amount (cumulative refunds are recorded as deltas)
    dispute       -the disputed amount withdrawn when a chargeback opens
    dispute_won   +the same amount reinstated when the dispute is won
    plan_invoice  -what the channel paid for its platform plan

Each row has a natural `entry_key` (e.g. `sale:pi_123`, `refund:ch_1:500`) that is UNIQUE per
channel, so a redelivered or concurrent Stripe event cannot add a movement twice.

`reconcile()` is the daily cross-check (functions/billing_reconcile): ledger totals per payment
against the Stripe objects we recorded (payments, disputes) and, optionally, against Stripe's own
PaymentIntent/Charge; discrepancies are logged and audited.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from shared.platform import audit
from shared.platform.db import Tx, transaction
from shared.platform.ids import uuid7

log = logging.getLogger("ledger")
KINDS = ("sale", "platform_fee", "refund", "dispute", "dispute_won", "plan_invoice")


def add(
    tx: Tx,
    *,
    key: str,
    kind: str,
    amount: int,
    currency: str,
    occurred_at: datetime,
    payment_id: str | None = None,
    course_id: str | None = None,
    stripe_object_id: str | None = None,
    stripe_event_id: str | None = None,
) -> bool:
    """Append one movement; False when a movement with this key is already recorded."""
    if kind not in KINDS:
        raise ValueError(f"unknown ledger kind {kind!r}")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError("ledger amounts are integer minor units")
    row = tx.one(
        "INSERT INTO ledger_entries (id, channel_id, entry_key, kind, amount, currency,"
        " payment_id, course_id, stripe_object_id, stripe_event_id, occurred_at)"
        " VALUES (:id, app_channel_id(), :k, :kind, :a, :cur, :p, :c, :o, :e, :t)"
        " ON CONFLICT (channel_id, entry_key) DO NOTHING RETURNING id",
        id=uuid7(),
        k=key,
        kind=kind,
        a=amount,
        cur=currency.lower(),
        p=payment_id,
        c=course_id,
        o=stripe_object_id,
        e=stripe_event_id,
        t=occurred_at,
    )
    return row is not None


def payment_totals(tx: Tx, payment_id: str) -> dict[str, int]:
    rows = tx.all(
        "SELECT kind, sum(amount)::bigint AS total FROM ledger_entries"
        " WHERE channel_id = app_channel_id() AND payment_id = :p GROUP BY kind",
        p=payment_id,
    )
    return {r["kind"]: int(r["total"]) for r in rows}


def expected_totals(payment: dict[str, Any], disputes: list[dict[str, Any]]) -> dict[str, int]:
    """What the ledger must hold for a payment, from the Stripe objects we recorded."""
    exp: dict[str, int] = {}
    if payment.get("paid_at") is not None and payment.get("amount") is not None:
        exp["sale"] = int(payment["amount"])
        if payment["application_fee_amount"]:
            exp["platform_fee"] = -int(payment["application_fee_amount"])
    if payment["amount_refunded"]:
        exp["refund"] = -int(payment["amount_refunded"])
    withdrawn = sum(int(d["amount"]) for d in disputes if d["funds_withdrawn"])
    won = sum(int(d["amount"]) for d in disputes if d["outcome"] == "won" and d["funds_withdrawn"])
    if withdrawn:
        exp["dispute"] = -withdrawn
    if won:
        exp["dispute_won"] = won
    return exp


def diff(expected: dict[str, int], actual: dict[str, int]) -> dict[str, dict[str, int]]:
    return {
        k: {"expected": expected.get(k, 0), "ledger": actual.get(k, 0)}
        for k in sorted(set(expected) | set(actual))
        if expected.get(k, 0) != actual.get(k, 0)
    }


def reconcile_channel(
    channel_id: str, *, since_days: int = 3, check_stripe: bool = False
) -> list[dict[str, Any]]:
    """Cross-check the channel's recently changed payments; audit and return discrepancies."""
    problems: list[dict[str, Any]] = []
    with transaction(channel_id=channel_id) as tx:
        payments = tx.all(
            "SELECT * FROM payments WHERE channel_id = app_channel_id()"
            " AND updated_at >= now() - make_interval(days => :d) ORDER BY created_at",
            d=since_days,
        )
        for p in payments:
            disputes = tx.all(
                "SELECT amount, outcome, left(status, 8) <> 'warning_' AS funds_withdrawn"
                " FROM disputes WHERE channel_id = app_channel_id() AND payment_id = :p",
                p=p["id"],
            )
            d = diff(expected_totals(p, disputes), payment_totals(tx, str(p["id"])))
            if check_stripe:
                d.update(_stripe_diff(p))
            if d:
                problems.append(
                    {
                        "payment_id": str(p["id"]),
                        "payment_intent_id": p["payment_intent_id"],
                        "diff": d,
                    }
                )
        for prob in problems:
            log.warning("ledger discrepancy", extra={"fields": {"channel_id": channel_id, **prob}})
            audit.record(
                tx,
                action="ledger.discrepancy",
                channel_id=channel_id,
                actor_user_id=None,
                target_type="payment",
                target_id=prob["payment_id"],
                details=prob,
            )
    return problems


def _stripe_diff(p: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Our recorded payment against Stripe's PaymentIntent and its latest Charge."""
    from shared.adapters import stripe_api

    try:
        pi = stripe_api.retrieve_payment_intent(p["payment_intent_id"])
    except stripe_api.PaymentProviderError:
        return {"stripe_unreachable": {"expected": 1, "ledger": 0}}
    out: dict[str, dict[str, int]] = {}
    latest = pi.get("latest_charge")
    charge: dict[str, Any] = latest if isinstance(latest, dict) else {}
    pairs = {
        "stripe_amount_received": (int(pi.get("amount_received") or 0), int(p["amount"] or 0)),
        "stripe_amount_refunded": (
            int(charge.get("amount_refunded") or 0),
            int(p["amount_refunded"]),
        ),
        "stripe_application_fee": (
            int(pi.get("application_fee_amount") or 0),
            int(p["application_fee_amount"]),
        ),
    }
    for k, (theirs, ours) in pairs.items():
        if p.get("paid_at") is not None and theirs != ours:
            out[k] = {"expected": theirs, "ledger": ours}
    return out


def reconcile_all(*, since_days: int = 3, check_stripe: bool = False) -> dict[str, Any]:
    """Every channel with payment activity (the daily cron). Returns a summary."""
    with transaction() as tx:  # channels are readable without a tenant
        channels = [
            str(r["id"])
            for r in tx.all(
                "SELECT id FROM channels WHERE stripe_account_id IS NOT NULL ORDER BY id"
            )
        ]
    found: list[dict[str, Any]] = []
    for c in channels:
        for prob in reconcile_channel(c, since_days=since_days, check_stripe=check_stripe):
            found.append({"channel_id": c, **prob})
    return {"channels_checked": len(channels), "discrepancies": found}
