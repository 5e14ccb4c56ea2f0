"""Stripe API adapter: the only module that imports the `stripe` SDK.

Imported lazily by shared.billing / shared.stripe_events / the reconcile cron, so routes that do
not talk to Stripe never pay for the SDK. With `STRIPE_API_KEY` set it talks to real Stripe
(test or live mode) unchanged. Without it ("local mode") the same SDK calls go to the local
stand-in (scripts/local_stripe.py) at `STRIPE_API_BASE`: the client's api base is pointed there
and a placeholder key is sent.

Every function takes and returns plain data (dicts of Stripe's object shapes); Stripe errors
become a 502 domain error so a provider failure is never mistaken for bad client input.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import stripe

from shared.platform.config import settings
from shared.platform.errors import DomainError

log = logging.getLogger("stripe_api")
logging.getLogger("stripe").setLevel(logging.WARNING)  # the SDK logs every request at INFO
LOCAL_API_KEY = "sk_test_local_standin"
_lock = threading.Lock()
_client: stripe.StripeClient | None = None


class PaymentProviderError(DomainError):
    status, slug, title = 502, "payment-provider-error", "Payment provider error"


def is_local() -> bool:
    return settings().stripe_api_key is None


def client() -> stripe.StripeClient:
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                s = settings()
                if s.stripe_api_key is not None:
                    _client = stripe.StripeClient(
                        s.stripe_api_key.get_secret_value(), max_network_retries=2
                    )
                else:
                    base = s.stripe_api_base.rstrip("/")
                    _client = stripe.StripeClient(
                        LOCAL_API_KEY,
                        max_network_retries=1,
                        base_addresses={"api": base, "connect": base, "files": base},
                    )
    return _client


def reset_client() -> None:
    """Forget the client (tests change settings between runs)."""
    global _client
    _client = None


def _plain(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _call(what: str, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        return _plain(fn(*args, **kwargs))
    except stripe.StripeError as e:
        log.warning(
            "stripe %s failed: %s",
            what,
            getattr(e, "user_message", None) or e,
            extra={
                "fields": {
                    "stripe_code": getattr(e, "code", None),
                    "http_status": getattr(e, "http_status", None),
                }
            },
        )
        raise PaymentProviderError(f"Stripe could not {what}; try again shortly.") from e


def _opts(idempotency_key: str | None) -> dict[str, Any]:
    return {"idempotency_key": idempotency_key} if idempotency_key else {}


# -- Connect: Express accounts and onboarding links -------------------------------------------
def create_express_account(
    *, channel_id: str, email: str | None, idempotency_key: str
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "type": "express",
        "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
        "metadata": {"channel_id": channel_id},
    }
    if email:
        params["email"] = email
    return _call(
        "create the payout account", client().v1.accounts.create, params, _opts(idempotency_key)
    )


def create_account_link(*, account_id: str, refresh_url: str, return_url: str) -> dict[str, Any]:
    return _call(
        "create the onboarding link",
        client().v1.account_links.create,
        {
            "account": account_id,
            "type": "account_onboarding",
            "refresh_url": refresh_url,
            "return_url": return_url,
        },
    )


def retrieve_account(account_id: str) -> dict[str, Any]:
    return _call("read the payout account", client().v1.accounts.retrieve, account_id)


# -- Checkout ----------------------------------------------------------------------------------
def create_course_checkout(
    *,
    amount: int,
    currency: str,
    product_name: str,
    fee: int,
    destination: str,
    metadata: dict[str, str],
    success_url: str,
    cancel_url: str,
    customer_email: str | None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """A Checkout Session for one course seat: a destination charge to the channel's account,
    the platform fee as `application_fee_amount`. The metadata is put on the session and on
    the PaymentIntent (so charges, refunds and disputes can be traced back to the channel)."""
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency,
                    "unit_amount": amount,
                    "product_data": {"name": product_name[:250]},
                },
            }
        ],
        "payment_intent_data": {
            "application_fee_amount": fee,
            "transfer_data": {"destination": destination},
            "metadata": metadata,
        },
        "metadata": metadata,
        "client_reference_id": metadata.get("user_id"),
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    if customer_email:
        params["customer_email"] = customer_email
    return _call(
        "start the checkout", client().v1.checkout.sessions.create, params, _opts(idempotency_key)
    )


def create_plan_checkout(
    *,
    customer: str,
    plan_key: str,
    plan_name: str,
    amount: int,
    currency: str,
    metadata: dict[str, str],
    success_url: str,
    cancel_url: str,
) -> dict[str, Any]:
    return _call(
        "start the plan checkout",
        client().v1.checkout.sessions.create,
        {
            "mode": "subscription",
            "customer": customer,
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency,
                        "unit_amount": amount,
                        "recurring": {"interval": "month"},
                        "product_data": {"name": f"Platform plan: {plan_name}"},
                    },
                }
            ],
            "subscription_data": {"metadata": {**metadata, "plan": plan_key}},
            "metadata": {**metadata, "plan": plan_key},
            "success_url": success_url,
            "cancel_url": cancel_url,
        },
    )


# -- Billing: customers and subscriptions --------------------------------------------------------
def create_customer(
    *, channel_id: str, email: str | None, name: str, idempotency_key: str
) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name[:250], "metadata": {"channel_id": channel_id}}
    if email:
        params["email"] = email
    return _call(
        "create the billing customer", client().v1.customers.create, params, _opts(idempotency_key)
    )


def delete_customer(customer_id: str) -> bool:
    """Delete a customer and its data at Stripe (erasure). False if Stripe has no such
    customer any more (already deleted): deleting is idempotent for the caller."""
    try:
        client().v1.customers.delete(customer_id)
    except stripe.InvalidRequestError as e:
        if getattr(e, "code", None) == "resource_missing":
            return False
        raise PaymentProviderError("Stripe could not delete the customer; retry shortly.") from e
    except stripe.StripeError as e:
        raise PaymentProviderError("Stripe could not delete the customer; retry shortly.") from e
    return True


def retrieve_subscription(subscription_id: str) -> dict[str, Any]:
    return _call("read the subscription", client().v1.subscriptions.retrieve, subscription_id)


def change_subscription_price(
    *, subscription: dict[str, Any], plan_key: str, amount: int, currency: str
) -> dict[str, Any]:
    """Swap the subscription's only item to the new plan's price (same product) as a pending
    update: the proration is invoiced at once and the switch applies only when that invoice
    is paid (`customer.subscription.pending_update_applied`); unpaid, nothing changes."""
    item = subscription["items"]["data"][0]
    price = item["price"]
    product = price["product"] if isinstance(price["product"], str) else price["product"]["id"]
    return _call(
        "change the plan",
        client().v1.subscriptions.update,
        subscription["id"],
        {
            "items": [
                {
                    "id": item["id"],
                    "price_data": {
                        "currency": currency,
                        "unit_amount": amount,
                        "product": product,
                        "recurring": {"interval": "month"},
                    },
                }
            ],
            "metadata": {"plan": plan_key},
            "payment_behavior": "pending_if_incomplete",
            "proration_behavior": "always_invoice",
        },
    )


def cancel_subscription(subscription_id: str) -> dict[str, Any]:
    """Cancel now; a final invoice bills whatever proration is still pending (`invoice_now`)."""
    return _call(
        "cancel the plan",
        client().v1.subscriptions.cancel,
        subscription_id,
        {"invoice_now": True},
    )


# -- Reconciliation --------------------------------------------------------------------------
def retrieve_payment_intent(payment_intent_id: str) -> dict[str, Any]:
    return _call(
        "read the payment",
        client().v1.payment_intents.retrieve,
        payment_intent_id,
        {"expand": ["latest_charge"]},
    )
