"""Pure pieces of billing: ledger expectations, event field extraction, request schemas."""

import pytest
from pydantic import ValidationError

from shared.billing import ledger, rules, stripe_events
from shared.billing.schemas import CheckoutIn, Money, PlanChangeIn


def _payment(**kw):
    base = {
        "paid_at": "2026-01-01",
        "amount": 5000,
        "application_fee_amount": 280,
        "amount_refunded": 0,
    }
    return {**base, **kw}


def test_expected_ledger_for_a_sale_refund_and_disputes():
    assert ledger.expected_totals(_payment(), []) == {"sale": 5000, "platform_fee": -280}
    assert ledger.expected_totals(_payment(amount_refunded=1200), []) == {
        "sale": 5000,
        "platform_fee": -280,
        "refund": -1200,
    }
    disputes = [
        {"amount": 5000, "outcome": "lost", "funds_withdrawn": True},
        {"amount": 700, "outcome": "won", "funds_withdrawn": True},
        {"amount": 999, "outcome": "inquiry_closed", "funds_withdrawn": False},
    ]
    assert ledger.expected_totals(_payment(), disputes) == {
        "sale": 5000,
        "platform_fee": -280,
        "dispute": -5700,
        "dispute_won": 700,
    }
    # refund seen before the completion: no sale expected yet, the refund is
    assert ledger.expected_totals(_payment(paid_at=None, amount_refunded=5000), []) == {
        "refund": -5000
    }


def test_diff_names_only_the_kinds_that_disagree():
    assert ledger.diff({"sale": 10, "refund": -5}, {"sale": 10, "refund": -5}) == {}
    assert ledger.diff({"sale": 10}, {"sale": 10, "refund": -3}) == {
        "refund": {"expected": 0, "ledger": -3}
    }


def test_ledger_refuses_float_amounts_and_unknown_kinds():
    with pytest.raises(TypeError):
        ledger.add(None, key="k", kind="sale", amount=10.5, currency="usd", occurred_at=None)
    with pytest.raises(ValueError):
        ledger.add(None, key="k", kind="bonus", amount=1, currency="usd", occurred_at=None)


def test_amount_fields_must_be_integers():
    assert rules.int_amount(100, "amount") == 100
    for bad in (10.0, "100", None, True):
        with pytest.raises(rules.InvalidEventField):
            rules.int_amount(bad, "amount")


def test_references_may_be_ids_or_expanded_objects():
    assert rules.id_of("pi_1") == "pi_1"
    assert rules.id_of({"id": "pi_2", "object": "payment_intent"}) == "pi_2"
    assert rules.id_of(None) is None and rules.id_of("") is None


def test_invoice_subscription_old_and_new_api_shapes():
    new = {
        "parent": {
            "subscription_details": {"subscription": "sub_1", "metadata": {"channel_id": "c"}}
        }
    }
    old = {"subscription": "sub_2", "subscription_details": {"metadata": {"plan": "pro"}}}
    assert rules.invoice_subscription(new) == ("sub_1", {"channel_id": "c"})
    assert rules.invoice_subscription(old) == ("sub_2", {"plan": "pro"})
    assert rules.invoice_subscription({"parent": None}) == (None, {})


def test_plan_key_and_period_end():
    assert rules.plan_key({"plan": "pro"}) == "pro"
    assert rules.plan_key({"plan": "gold"}, None, {"plan": "business"}) == "business"
    assert rules.period_end({"current_period_end": 1_700_000_000}).year == 2023
    assert (
        rules.period_end({"items": {"data": [{"current_period_end": 1_800_000_000}]}}).year == 2027
    )
    assert rules.period_end({}) is None


def test_every_issue_event_type_has_a_handler():
    for etype in (
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "charge.refunded",
        "charge.dispute.created",
        "charge.dispute.closed",
        "account.updated",
        "invoice.paid",
        "invoice.payment_failed",
        "customer.subscription.updated",
        "customer.subscription.deleted",
    ):
        assert etype in stripe_events.HANDLERS


def test_checkout_body_validation():
    ok = CheckoutIn.model_validate(
        {"success_url": "https://a.example/ok", "cancel_url": "https://a.example/no"}
    )
    assert ok.success_url == "https://a.example/ok" and ok.batch_id is None
    for bad in (
        {"success_url": "nope", "cancel_url": "https://a.example/no"},
        {"success_url": "https://a.example/ok"},
        {"success_url": "https://a/ok", "cancel_url": "https://a/no", "price": 1},
        {"success_url": "https://a/ok", "cancel_url": "https://a/no", "batch_id": "x"},
        {"success_url": "javascript:alert(1)", "cancel_url": "https://a/no"},
    ):
        with pytest.raises(ValidationError):
            CheckoutIn.model_validate(bad)
    with pytest.raises(ValidationError):
        PlanChangeIn.model_validate({"plan": "platinum"})


def test_money_is_strict_integer_minor_units():
    assert Money(amount=1999, currency="usd").amount == 1999
    for bad in (19.99, "1999", 1999.0):
        with pytest.raises(ValidationError):
            Money(amount=bad, currency="usd")
