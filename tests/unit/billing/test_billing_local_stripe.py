"""The local Stripe stand-in (scripts/local_stripe.py) driven by the real stripe SDK through
shared.adapters.stripe_api: Stripe's object shapes, form encoding, pages that complete
onboarding and pay, and webhooks signed exactly as Stripe signs (verified by our verifier)."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from shared.billing.stripe_events import verify
from shared.platform.config import settings

ROOT = Path(__file__).resolve().parents[3]
SECRET = "whsec_unit_standin"


def _load_standin():
    spec = importlib.util.spec_from_file_location(
        "local_stripe_under_test", ROOT / "scripts" / "local_stripe.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Capture:
    """A fake gateway: records every webhook delivery (raw body + signature header)."""

    def __init__(self):
        self.received: list[tuple[bytes, str]] = []
        self.cond = threading.Condition()

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        with self.cond:
            self.received.append((body, environ.get("HTTP_STRIPE_SIGNATURE", "")))
            self.cond.notify_all()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"received": true}']

    def events(self, etype: str | None = None, wait_for: int = 0, timeout: float = 5.0):
        deadline = time.time() + timeout
        with self.cond:
            while True:
                evs = [verify(b, h, SECRET) for b, h in self.received]
                evs = [e for e in evs if etype is None or e["type"] == etype]
                if len(evs) >= wait_for or time.time() > deadline:
                    return evs
                self.cond.wait(0.1)


def _serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


@pytest.fixture(scope="module")
def standin():
    mod = _load_standin()
    capture = Capture()
    s1, base = _serve(mod.app)
    s2, hook = _serve(capture)
    yield mod, base, hook, capture
    s1.shutdown()
    s2.shutdown()


@pytest.fixture
def api(standin, monkeypatch):
    from shared.adapters import stripe_api

    _mod, base, hook, capture = standin
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    monkeypatch.setenv("STRIPE_API_BASE", base)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("STRIPE_WEBHOOK_URL", hook + "/v1/webhooks/stripe")
    settings.cache_clear()
    stripe_api.reset_client()
    capture.received.clear()
    yield stripe_api
    settings.cache_clear()
    stripe_api.reset_client()


def test_form_decoding_matches_stripes_bracket_notation(standin):
    mod = standin[0]
    got = mod.decode_form(
        [
            ("mode", "payment"),
            ("line_items[0][quantity]", "1"),
            ("line_items[0][price_data][unit_amount]", "2500"),
            ("line_items[1][quantity]", "2"),
            ("metadata[channel_id]", "c1"),
            ("expand[]", "latest_charge"),
            ("expand[]", "customer"),
        ]
    )
    assert got == {
        "mode": "payment",
        "metadata": {"channel_id": "c1"},
        "line_items": [{"quantity": "1", "price_data": {"unit_amount": "2500"}}, {"quantity": "2"}],
        "expand": ["latest_charge", "customer"],
    }


def test_requests_need_an_api_key_like_stripe(standin):
    base = standin[1]
    r = requests.post(f"{base}/v1/accounts", data={"type": "express"}, timeout=5)
    assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error"


def test_express_onboarding_page_sends_signed_account_updated(api, standin):
    capture = standin[3]
    acct = api.create_express_account(
        channel_id="chan-1", email="o@example.com", idempotency_key="k-acct-1"
    )
    assert acct["object"] == "account" and acct["id"].startswith("acct_")
    assert acct["charges_enabled"] is False and acct["metadata"] == {"channel_id": "chan-1"}
    again = api.create_express_account(
        channel_id="chan-1", email="o@example.com", idempotency_key="k-acct-1"
    )
    assert again["id"] == acct["id"]  # Stripe idempotency keys are honoured
    link = api.create_account_link(
        account_id=acct["id"], refresh_url="http://x/r", return_url="http://x/done"
    )
    assert link["object"] == "account_link" and isinstance(link["expires_at"], int)
    page = requests.get(link["url"], timeout=5)
    assert page.status_code == 200 and "<form method='post'>" in page.text
    done = requests.post(link["url"], timeout=10)
    assert done.status_code == 200
    [event] = capture.events("account.updated", wait_for=1)
    assert event["account"] == acct["id"]
    obj = event["data"]["object"]
    assert obj["id"] == acct["id"] and obj["charges_enabled"] is True
    assert obj["payouts_enabled"] is True and obj["requirements"]["currently_due"] == []
    assert api.retrieve_account(acct["id"])["charges_enabled"] is True


def test_checkout_page_pays_and_sends_completed_with_metadata_and_fee(api, standin):
    capture = standin[3]
    acct = api.create_express_account(channel_id="c", email=None, idempotency_key="k-acct-2")
    meta = {"channel_id": "c", "course_id": "co", "user_id": "u", "batch_id": "b"}
    session = api.create_course_checkout(
        amount=4900,
        currency="usd",
        product_name="Course",
        fee=275,
        destination=acct["id"],
        metadata=meta,
        success_url="http://x/ok",
        cancel_url="http://x/no",
        customer_email="buyer@example.com",
    )
    assert session["object"] == "checkout.session" and session["id"].startswith("cs_")
    assert session["status"] == "open" and session["payment_status"] == "unpaid"
    assert session["amount_total"] == 4900 and type(session["amount_total"]) is int
    assert requests.post(session["url"], timeout=10).status_code == 200
    [event] = capture.events("checkout.session.completed", wait_for=1)
    s = event["data"]["object"]
    assert s["id"] == session["id"] and s["payment_status"] == "paid"
    assert s["metadata"] == meta and s["amount_total"] == 4900 and s["currency"] == "usd"
    pi = api.retrieve_payment_intent(s["payment_intent"])
    assert pi["application_fee_amount"] == 275 and pi["amount_received"] == 4900
    assert pi["transfer_data"]["destination"] == acct["id"] and pi["metadata"] == meta
    assert pi["latest_charge"]["metadata"] == meta
    # paying twice sends nothing more
    requests.post(session["url"], timeout=10)
    assert len(capture.events("checkout.session.completed")) == 1
    # a refund through the real API sends charge.refunded (in the background, like Stripe)
    from shared.adapters.stripe_api import client

    client().v1.refunds.create({"payment_intent": s["payment_intent"], "amount": 900})
    [refunded] = capture.events("charge.refunded", wait_for=1)
    ch = refunded["data"]["object"]
    assert ch["amount_refunded"] == 900 and ch["refunded"] is False
    assert ch["metadata"] == meta and ch["payment_intent"] == s["payment_intent"]


def test_fee_larger_than_amount_is_refused_like_stripe(api):
    acct = api.create_express_account(channel_id="c", email=None, idempotency_key="k-acct-3")
    with pytest.raises(api.PaymentProviderError):
        api.create_course_checkout(
            amount=100,
            currency="usd",
            product_name="C",
            fee=101,
            destination=acct["id"],
            metadata={},
            success_url="http://x/ok",
            cancel_url="http://x/no",
            customer_email=None,
        )


def test_plan_subscription_checkout_change_and_cancel(api, standin):
    capture = standin[3]
    cus = api.create_customer(
        channel_id="c9", email="o@example.com", name="Chan", idempotency_key="k-cus-1"
    )
    session = api.create_plan_checkout(
        customer=cus["id"],
        plan_key="pro",
        plan_name="Pro",
        amount=2900,
        currency="usd",
        metadata={"channel_id": "c9"},
        success_url="http://x/ok",
        cancel_url="http://x/no",
    )
    assert session["mode"] == "subscription"
    requests.post(session["url"], timeout=10)
    types = [e["type"] for e in capture.events(wait_for=3)]
    assert types == ["customer.subscription.created", "invoice.paid", "checkout.session.completed"]
    sub_event, invoice_event, done = capture.events(wait_for=3)
    sub = sub_event["data"]["object"]
    assert sub["metadata"] == {"channel_id": "c9", "plan": "pro"} and sub["status"] == "active"
    inv = invoice_event["data"]["object"]
    assert inv["amount_paid"] == 2900
    assert inv["parent"]["subscription_details"]["subscription"] == sub["id"]
    assert done["data"]["object"]["subscription"] == sub["id"]
    current = api.retrieve_subscription(sub["id"])
    changed = api.change_subscription_price(
        subscription=current, plan_key="business", amount=9900, currency="usd"
    )
    # the card pays: the proration is invoiced at once and the switch applies with it
    assert changed["items"]["data"][0]["price"]["unit_amount"] == 9900
    assert changed["metadata"]["plan"] == "business" and changed["pending_update"] is None
    [updated] = capture.events("customer.subscription.updated", wait_for=1)
    assert updated["data"]["previous_attributes"]["metadata"]["plan"] == "pro"
    proration = capture.events("invoice.paid", wait_for=2)[-1]["data"]["object"]
    assert proration["billing_reason"] == "subscription_update"
    assert 0 < proration["amount_paid"] <= 9900 - 2900
    api.cancel_subscription(sub["id"])
    [deleted] = capture.events("customer.subscription.deleted", wait_for=1)
    assert deleted["data"]["object"]["status"] == "canceled"


def _subscribed(api, capture, name: str) -> tuple[str, str]:
    cus = api.create_customer(
        channel_id="c9", email="o@example.com", name="Chan", idempotency_key=f"k-cus-{name}"
    )
    session = api.create_plan_checkout(
        customer=cus["id"],
        plan_key="pro",
        plan_name="Pro",
        amount=2900,
        currency="usd",
        metadata={"channel_id": "c9"},
        success_url="http://x/ok",
        cancel_url="http://x/no",
    )
    requests.post(session["url"], timeout=10)
    capture.events(wait_for=3)
    capture.received.clear()
    return cus["id"], capture_sub(api, session["id"])


def capture_sub(api, session_id: str) -> str:
    return api.client().v1.checkout.sessions.retrieve(session_id).to_dict()["subscription"]


def test_an_unpaid_plan_change_stays_pending_until_its_invoice_is_paid(api, standin):
    base, capture = standin[1], standin[3]
    cus, sub_id = _subscribed(api, capture, "pending")
    auth = {"Authorization": "Bearer sk_test_unit"}
    requests.post(f"{base}/_local/customers/{cus}/decline", headers=auth, timeout=10)
    changed = api.change_subscription_price(
        subscription=api.retrieve_subscription(sub_id),
        plan_key="business",
        amount=9900,
        currency="usd",
    )
    # nothing changes but `pending_update`: items and metadata still bill the old plan
    assert changed["items"]["data"][0]["price"]["unit_amount"] == 2900
    assert changed["metadata"]["plan"] == "pro"
    pending = changed["pending_update"]
    assert pending["subscription_items"][0]["price"]["unit_amount"] == 9900
    assert pending["metadata"] == {"plan": "business"} and pending["expires_at"] > time.time()
    failed, updated = capture.events(wait_for=2)
    assert failed["type"] == "invoice.payment_failed"
    invoice = failed["data"]["object"]
    assert invoice["billing_reason"] == "subscription_update" and invoice["status"] == "open"
    assert updated["type"] == "customer.subscription.updated"
    assert updated["data"]["object"]["pending_update"] is not None
    assert updated["data"]["object"]["status"] == "active"
    capture.received.clear()
    r = requests.post(f"{base}/_local/invoices/{invoice['id']}/pay", headers=auth, timeout=20)
    assert r.status_code == 200, r.text
    types = [e["type"] for e in capture.events(wait_for=3)]
    assert types == [
        "invoice.paid",
        "customer.subscription.updated",
        "customer.subscription.pending_update_applied",
    ]
    applied = capture.events("customer.subscription.pending_update_applied")[0]["data"]["object"]
    assert applied["items"]["data"][0]["price"]["unit_amount"] == 9900
    assert applied["metadata"]["plan"] == "business" and applied["pending_update"] is None


def test_pending_updates_refuse_parameters_stripe_refuses(api, standin):
    capture = standin[3]
    _cus, sub_id = _subscribed(api, capture, "refuse")
    sub = api.retrieve_subscription(sub_id)
    with pytest.raises(Exception) as err:
        api.client().v1.subscriptions.update(
            sub_id,
            {
                "items": [{"id": sub["items"]["data"][0]["id"], "quantity": 1}],
                "payment_behavior": "pending_if_incomplete",
                "cancel_at_period_end": False,
            },
        )
    assert "pending_if_incomplete" in str(err.value)


def test_cancel_invoices_the_pending_proration(api, standin):
    capture = standin[3]
    _cus, sub_id = _subscribed(api, capture, "cancel")
    sub = api.retrieve_subscription(sub_id)
    item = sub["items"]["data"][0]
    product = item["price"]["product"]
    # a price switch prorated onto the next invoice (what the platform did before issue 16)
    api.client().v1.subscriptions.update(
        sub_id,
        {
            "items": [
                {
                    "id": item["id"],
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 9900,
                        "product": product,
                        "recurring": {"interval": "month"},
                    },
                }
            ],
            "proration_behavior": "create_prorations",
        },
    )
    capture.events("customer.subscription.updated", wait_for=1)
    capture.received.clear()
    api.cancel_subscription(sub_id)
    final, deleted = capture.events(wait_for=2)
    assert (final["type"], deleted["type"]) == ("invoice.paid", "customer.subscription.deleted")
    assert 0 < final["data"]["object"]["amount_paid"] <= 9900 - 2900


def test_objects_keep_stripes_shape(api):
    """Every field of the fixture object is present in what the stand-in returns."""
    fixtures = json.loads((ROOT / "scripts/stripe_fixtures/fixtures.json").read_text())
    acct = api.create_express_account(channel_id="c", email=None, idempotency_key="k-acct-4")
    assert set(fixtures["resources"]["account"]) <= set(acct)
    link = api.create_account_link(
        account_id=acct["id"], refresh_url="http://x", return_url="http://x"
    )
    assert set(fixtures["resources"]["account_link"]) <= set(link)
