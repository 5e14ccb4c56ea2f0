"""Local Stripe stand-in (local mode: no STRIPE_API_KEY). A WSGI `app` the dev stack serves at
STRIPE_API_BASE; the project's stripe SDK calls land here unchanged (form-encoded, Bearer key).

It answers exactly the calls the project makes, with Stripe's object shapes (built from
scripts/stripe_fixtures/fixtures.json, Stripe's own OpenAPI fixtures), and sends webhooks to
GATEWAY_URL + /v1/webhooks/stripe signed with STRIPE_WEBHOOK_SECRET exactly as Stripe signs
(`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`).

Stripe API:   POST /v1/accounts, GET /v1/accounts/{id}, POST /v1/account_links,
              POST /v1/checkout/sessions, GET /v1/checkout/sessions/{id},
              POST /v1/customers, GET|DELETE /v1/customers/{id},
              GET|POST|DELETE /v1/subscriptions/{id}, POST /v1/refunds,
              GET /v1/payment_intents/{id}, GET /v1/charges/{id}
Pages:        GET /connect/onboarding/{acct} shows a button; POST completes onboarding and
              sends `account.updated` (charges and payouts enabled).
              GET /checkout/pay/{cs} shows a button; POST pays and sends
              `checkout.session.completed` (payment) or `customer.subscription.created`,
              `invoice.paid`, `checkout.session.completed` (subscription).
Local only:   POST /_local/disputes {charge|payment_intent}, POST /_local/disputes/{id}/close
              {status: won|lost}, POST /_local/subscriptions/{id}/fail_payment,
              POST /_local/customers/{id}/decline {decline: true|false} (the card declines),
              POST /_local/invoices/{id}/pay (an open invoice is paid; one holding a pending
              subscription update applies it),
              GET /_local/events (what was sent and how the gateway answered).
Subscription updates speak pending updates (`payment_behavior=pending_if_incomplete`,
`proration_behavior=always_invoice`: the proration is invoiced at once and the change waits in
`pending_update` until that invoice is paid) and cancels take `invoice_now`/`prorate`.
Webhooks caused by a page or a /_local call are delivered before it answers; those caused by an
API call (refund, subscription change/cancel) right after, in the background, as Stripe does.
State lives in this process's memory: serve it from one process (threads are fine).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import html
import json
import os
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from flask import Flask, Response, request

API_VERSION = "2026-10-28.endive"
FIXTURES: dict[str, Any] = json.loads(
    (Path(__file__).with_name("stripe_fixtures") / "fixtures.json").read_text()
)["resources"]

app = Flask("local_stripe")
_lock = threading.RLock()
OBJECTS: dict[str, dict[str, Any]] = {}  # id -> object (all kinds; ids carry their prefix)
PRIVATE: dict[str, dict[str, Any]] = {}  # id -> stand-in bookkeeping (never returned)
IDEMPOTENCY: dict[tuple[str, str], tuple[int, str]] = {}
EVENTS: list[dict[str, Any]] = []


# -- helpers ----------------------------------------------------------------------------------
def now() -> int:
    return int(time.time())


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def public_base() -> str:
    return (os.environ.get("STRIPE_API_BASE") or request.host_url).rstrip("/")


def webhook_url() -> str:
    gateway = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080").rstrip("/")
    return os.environ.get("STRIPE_WEBHOOK_URL") or gateway + "/v1/webhooks/stripe"


def webhook_secret() -> str:
    return os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_local")


def make(kind: str, **fields: Any) -> dict[str, Any]:
    """A Stripe object of `kind`: the fixture's shape with our values."""
    obj = copy.deepcopy(FIXTURES[kind])
    obj.update(created=now(), livemode=False)
    if "metadata" in obj:
        obj["metadata"] = {}
    obj.update(fields)
    return obj


def stripe_list(data: list[Any], url: str) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": False, "url": url}


def error(
    status: int,
    message: str,
    param: str | None = None,
    kind: str = "invalid_request_error",
    code: str | None = None,
) -> Response:
    body = {"error": {"type": kind, "message": message, "param": param, "code": code}}
    return Response(json.dumps(body), status=status, content_type="application/json")


def ok(obj: Any, status: int = 200) -> Response:
    return Response(json.dumps(obj), status=status, content_type="application/json")


_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`) -> nested dicts/lists of strings."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        m = _KEY.match(key)
        if not m:
            continue
        path = [m.group(1), *re.findall(r"\[([^\[\]]*)\]", m.group(2))]
        node = root
        for i, part in enumerate(path):
            last = i == len(path) - 1
            if part == "":  # a[]=x: append
                part = str(len(node))
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _listify(root)


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _listify(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


def params() -> dict[str, Any]:
    if request.method in ("GET", "DELETE"):  # the SDK sends these in the query string
        return decode_form(list(request.args.items(multi=True)))
    return decode_form(list(request.form.items(multi=True)))


def as_int(value: Any, name: str) -> int:
    try:
        out = int(str(value))
    except (TypeError, ValueError):
        raise BadParam(f"Invalid integer: {value}", name) from None
    return out


def as_bool(value: Any) -> bool:
    return str(value).lower() == "true"


class BadParam(Exception):
    def __init__(self, message: str, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.param, self.status = param, status


@app.errorhandler(BadParam)
def _bad_param(e: BadParam) -> Response:
    return error(e.status, str(e), e.param)


def get(obj_id: str, prefix: str) -> dict[str, Any]:
    obj = OBJECTS.get(obj_id)
    if obj is None or not obj_id.startswith(prefix + "_"):
        raise BadParam(f"No such object: '{obj_id}'", "id", 404)
    return obj


@app.before_request
def _authenticate() -> Response | None:
    if not request.path.startswith("/v1/"):
        return None
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer sk_"):
        return error(401, "You did not provide an API key.", kind="invalid_request_error")
    key = request.headers.get("Idempotency-Key")
    if key and request.method == "POST":
        cached = IDEMPOTENCY.get((request.path, key))
        if cached:
            resp = Response(cached[1], status=cached[0], content_type="application/json")
            resp.headers["Idempotent-Replayed"] = "true"
            return resp
    return None


@app.after_request
def _remember(resp: Response) -> Response:
    key = request.headers.get("Idempotency-Key")
    if (
        key
        and request.method == "POST"
        and request.path.startswith("/v1/")
        and resp.status_code < 500
        and "Idempotent-Replayed" not in resp.headers
    ):
        IDEMPOTENCY[(request.path, key)] = (resp.status_code, resp.get_data(as_text=True))
    resp.headers["Request-Id"] = "req_" + secrets.token_hex(7)
    resp.headers["Stripe-Version"] = API_VERSION
    return resp


# -- webhooks ---------------------------------------------------------------------------------
def sign(payload: bytes, timestamp: int | None = None) -> str:
    t = now() if timestamp is None else timestamp
    mac = hmac.new(webhook_secret().encode(), f"{t}.".encode() + payload, hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


def make_event(
    etype: str,
    obj: dict[str, Any],
    *,
    account: str | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    event = make(
        "event",
        id=new_id("evt"),
        type=etype,
        api_version=API_VERSION,
        data={"object": copy.deepcopy(obj)},
        pending_webhooks=1,
        request={"id": None, "idempotency_key": None},
    )
    if previous is not None:
        event["data"]["previous_attributes"] = previous
    if account:
        event["account"] = account
    return event


def deliver(event: dict[str, Any], attempts: int = 3) -> int | None:
    payload = json.dumps(event).encode()
    status: int | None = None
    for i in range(attempts):
        req = urllib.request.Request(
            webhook_url(),
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": sign(payload),
                "User-Agent": "Stripe/1.0 (+local stand-in)",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        except (urllib.error.URLError, OSError):
            status = None
        if status is not None and 200 <= status < 300:
            break
        time.sleep(0.2 * (i + 1))
    with _lock:
        EVENTS.append({"id": event["id"], "type": event["type"], "delivered_status": status})
    return status


def emit(etype: str, obj: dict[str, Any], *, sync: bool, **kw: Any) -> dict[str, Any]:
    event = make_event(etype, obj, **kw)
    if sync:
        deliver(event)
    else:
        threading.Thread(target=deliver, args=(event,), daemon=True).start()
    return event


def page(title: str, body: str, status: int = 200) -> Response:
    doc = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto}"
        "button{font-size:1.1rem;padding:.6rem 1.4rem}</style></head>"
        f"<body><p><small>Local Stripe stand-in (test mode)</small></p>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Response(doc, status=status, content_type="text/html; charset=utf-8")


# -- Connect ----------------------------------------------------------------------------------
@app.post("/v1/accounts")
def create_account() -> Response:
    p = params()
    acct = make(
        "account",
        id=new_id("acct"),
        type=p.get("type", "express"),
        email=p.get("email"),
        metadata=p.get("metadata") or {},
        charges_enabled=False,
        payouts_enabled=False,
        details_submitted=False,
        capabilities={k: "inactive" for k in (p.get("capabilities") or {})},
        controller={"type": "application", "is_controller": True},
    )
    acct["external_accounts"]["url"] = f"/v1/accounts/{acct['id']}/external_accounts"
    with _lock:
        OBJECTS[acct["id"]] = acct
    return ok(acct)


@app.get("/v1/accounts/<acct_id>")
def retrieve_account(acct_id: str) -> Response:
    return ok(get(acct_id, "acct"))


@app.post("/v1/account_links")
def create_account_link() -> Response:
    p = params()
    for required in ("account", "type"):
        if not p.get(required):
            raise BadParam(f"Missing required param: {required}.", required)
    acct = get(p["account"], "acct")
    PRIVATE[acct["id"]] = {"return_url": p.get("return_url"), "refresh_url": p.get("refresh_url")}
    link = make(
        "account_link",
        expires_at=now() + 300,
        url=f"{public_base()}/connect/onboarding/{acct['id']}",
    )
    return ok(link)


@app.route("/connect/onboarding/<acct_id>", methods=["GET", "POST"])
def onboarding_page(acct_id: str) -> Response:
    acct = OBJECTS.get(acct_id)
    if acct is None or not acct_id.startswith("acct_"):
        return page("Link expired", "<p>No such account.</p>", 404)
    back = (PRIVATE.get(acct_id) or {}).get("return_url")
    if request.method == "GET":
        return page(
            "Set up payouts",
            f"<p>Account {html.escape(acct_id)}</p>"
            "<form method='post'><button>Complete onboarding</button></form>",
        )
    with _lock:
        previous = {
            "charges_enabled": acct["charges_enabled"],
            "payouts_enabled": acct["payouts_enabled"],
        }
        acct.update(
            charges_enabled=True,
            payouts_enabled=True,
            details_submitted=True,
            capabilities={"card_payments": "active", "transfers": "active"},
        )
        acct["requirements"].update(
            currently_due=[], eventually_due=[], past_due=[], disabled_reason=None
        )
    event = emit("account.updated", acct, sync=True, account=acct_id, previous=previous)
    link = f"<p><a href='{html.escape(back)}'>Return to the platform</a></p>" if back else ""
    return page("Onboarding complete", f"<p>Payouts are enabled (event {event['id']}).</p>{link}")


# -- Checkout ---------------------------------------------------------------------------------
def _line_amount(p: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
    items = p.get("line_items")
    if not isinstance(items, list) or not items:
        raise BadParam("Missing required param: line_items.", "line_items")
    total, currency, first = 0, None, items[0]
    for i, item in enumerate(items):
        pd = item.get("price_data") or {}
        if not pd:
            raise BadParam(
                "Only price_data line items are supported here.", f"line_items[{i}][price_data]"
            )
        total += as_int(
            pd.get("unit_amount"), f"line_items[{i}][price_data][unit_amount]"
        ) * as_int(item.get("quantity", 1), f"line_items[{i}][quantity]")
        currency = str(pd.get("currency") or "").lower()
    if not currency or not re.fullmatch(r"[a-z]{3}", currency):
        raise BadParam("Invalid currency.", "line_items[0][price_data][currency]")
    return total, currency, first


@app.post("/v1/checkout/sessions")
def create_checkout_session() -> Response:
    p = params()
    mode = p.get("mode")
    if mode not in ("payment", "subscription"):
        raise BadParam("Invalid mode: must be payment or subscription.", "mode")
    for required in ("success_url",):
        if not p.get(required):
            raise BadParam(f"Missing required param: {required}.", required)
    amount, currency, _ = _line_amount(p)
    pid = p.get("payment_intent_data") or {}
    if mode == "payment" and pid.get("application_fee_amount") is not None:
        fee = as_int(pid["application_fee_amount"], "payment_intent_data[application_fee_amount]")
        if fee > amount:
            raise BadParam(
                "application_fee_amount cannot exceed the amount.",
                "payment_intent_data[application_fee_amount]",
            )
        dest = (pid.get("transfer_data") or {}).get("destination")
        if dest and dest not in OBJECTS:
            raise BadParam(
                f"No such destination: '{dest}'", "payment_intent_data[transfer_data][destination]"
            )
    if p.get("customer"):
        get(p["customer"], "cus")
    cs_id = new_id("cs_test")
    session = make(
        "checkout.session",
        id=cs_id,
        mode=mode,
        status="open",
        payment_status="unpaid",
        amount_subtotal=amount,
        amount_total=amount,
        currency=currency,
        metadata=p.get("metadata") or {},
        success_url=p.get("success_url"),
        cancel_url=p.get("cancel_url"),
        customer=p.get("customer"),
        customer_email=p.get("customer_email"),
        client_reference_id=p.get("client_reference_id"),
        payment_intent=None,
        subscription=None,
        invoice=None,
        expires_at=now() + 24 * 3600,
        url=f"{public_base()}/checkout/pay/{cs_id}",
        shipping_cost=None,
        shipping_address_collection=None,
        total_details={"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        currency_conversion=None,
        invoice_creation=None,
        customer_details=None,
    )
    with _lock:
        OBJECTS[cs_id] = session
        PRIVATE[cs_id] = {"params": p}
    return ok(session)


@app.get("/v1/checkout/sessions/<cs_id>")
def retrieve_checkout_session(cs_id: str) -> Response:
    return ok(get(cs_id, "cs"))


@app.route("/checkout/pay/<cs_id>", methods=["GET", "POST"])
def checkout_page(cs_id: str) -> Response:
    session = OBJECTS.get(cs_id)
    if session is None or not cs_id.startswith("cs_"):
        return page("Checkout not found", "<p>This checkout does not exist.</p>", 404)
    amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
    if request.method == "GET":
        state = "paid" if session["status"] == "complete" else "open"
        return page(
            "Pay",
            f"<p>{html.escape(amount)} ({state})</p>"
            "<form method='post'><button>Pay</button></form>",
        )
    with _lock:
        if session["status"] != "open":
            return page("Already paid", "<p>This checkout is already complete.</p>")
        session.update(status="complete", payment_status="paid")
        events = (
            _pay_subscription(session)
            if session["mode"] == "subscription"
            else _pay_payment(session)
        )
    for etype, obj, kw in events:
        emit(etype, obj, sync=True, **kw)
    back = html.escape((session.get("success_url") or "").replace("{CHECKOUT_SESSION_ID}", cs_id))
    return page(
        "Payment complete",
        f"<p>Paid {html.escape(amount)}.</p><p><a href='{back}'>Continue</a></p>",
    )


def _pay_payment(session: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    p = PRIVATE[session["id"]]["params"]
    pid = p.get("payment_intent_data") or {}
    meta = pid.get("metadata") or {}
    fee = (
        as_int(pid["application_fee_amount"], "fee")
        if pid.get("application_fee_amount") is not None
        else None
    )
    dest = (pid.get("transfer_data") or {}).get("destination")
    amount, currency = session["amount_total"], session["currency"]
    pi_id, ch_id = new_id("pi"), new_id("ch")
    charge = make(
        "charge",
        id=ch_id,
        amount=amount,
        amount_captured=amount,
        amount_refunded=0,
        captured=True,
        paid=True,
        refunded=False,
        disputed=False,
        status="succeeded",
        currency=currency,
        payment_intent=pi_id,
        metadata=meta,
        application_fee_amount=fee,
        application_fee=new_id("fee") if fee else None,
        balance_transaction=new_id("txn"),
        transfer_data={"amount": None, "destination": dest} if dest else None,
        refunds=stripe_list([], f"/v1/charges/{ch_id}/refunds"),
        source=None,
        description=None,
        receipt_url=None,
        billing_details={
            **FIXTURES["charge"]["billing_details"],
            "email": session.get("customer_email"),
        },
    )
    pi = make(
        "payment_intent",
        id=pi_id,
        amount=amount,
        amount_received=amount,
        currency=currency,
        status="succeeded",
        latest_charge=ch_id,
        metadata=meta,
        application_fee_amount=fee,
        transfer_data={"destination": dest} if dest else None,
        canceled_at=None,
        last_payment_error=None,
        next_action=None,
        processing=None,
        client_secret=f"{pi_id}_secret_{secrets.token_hex(8)}",
    )
    OBJECTS[ch_id], OBJECTS[pi_id] = charge, pi
    session["payment_intent"] = pi_id
    return [("checkout.session.completed", session, {})]


def _pay_subscription(session: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    p = PRIVATE[session["id"]]["params"]
    customer = session.get("customer") or _new_customer({"email": session.get("customer_email")})
    pd = p["line_items"][0]["price_data"]
    prod = make(
        "product",
        id=new_id("prod"),
        name=(pd.get("product_data") or {}).get("name", "Subscription"),
        default_price=None,
        package_dimensions=None,
        type="service",
    )
    OBJECTS[prod["id"]] = prod
    price = _price(prod["id"], as_int(pd["unit_amount"], "unit_amount"), session["currency"])
    sub_meta = (p.get("subscription_data") or {}).get("metadata") or {}
    sub_id, in_id = new_id("sub"), new_id("in")
    start, end = now(), now() + 30 * 24 * 3600
    item = copy.deepcopy(FIXTURES["subscription"]["items"]["data"][0])
    item.update(
        id=new_id("si"),
        price=price,
        subscription=sub_id,
        created=start,
        current_period_start=start,
        current_period_end=end,
        plan=None,
        metadata={},
        billing_thresholds=None,
    )
    sub = make(
        "subscription",
        id=sub_id,
        customer=customer,
        status="active",
        currency=session["currency"],
        items=stripe_list([item], f"/v1/subscription_items?subscription={sub_id}"),
        metadata=sub_meta,
        cancel_at=None,
        canceled_at=None,
        ended_at=None,
        cancel_at_period_end=False,
        trial_end=None,
        trial_start=None,
        start_date=start,
        billing_cycle_anchor=start,
        latest_invoice=in_id,
        pending_update=None,
        pause_collection=None,
        transfer_data=None,
        next_pending_invoice_item_invoice=None,
        pending_invoice_item_interval=None,
        billing_schedules=[],
    )
    invoice = _invoice(in_id, sub, paid=True, reason="subscription_create")
    OBJECTS[sub_id], OBJECTS[in_id] = sub, invoice
    session.update(subscription=sub_id, customer=customer, invoice=in_id)
    return [
        ("customer.subscription.created", sub, {}),
        ("invoice.paid", invoice, {}),
        ("checkout.session.completed", session, {}),
    ]


def _price(product: str, unit_amount: int, currency: str) -> dict[str, Any]:
    price = make(
        "price",
        id=new_id("price"),
        product=product,
        unit_amount=unit_amount,
        unit_amount_decimal=str(unit_amount),
        currency=currency,
        transform_quantity=None,
        custom_unit_amount=None,
    )
    OBJECTS[price["id"]] = price
    return price


def _invoice(
    in_id: str, sub: dict[str, Any], *, paid: bool, reason: str, amount: int | None = None
) -> dict[str, Any]:
    if amount is None:
        amount = sub["items"]["data"][0]["price"]["unit_amount"]
    line = copy.deepcopy(FIXTURES["invoice"]["lines"]["data"][0])
    line.update(
        id=new_id("il"),
        invoice=in_id,
        amount=amount,
        currency=sub["currency"],
        subtotal=amount,
        description="Platform plan",
    )
    return make(
        "invoice",
        id=in_id,
        customer=sub["customer"],
        currency=sub["currency"],
        amount_due=amount,
        amount_paid=amount if paid else 0,
        amount_remaining=0 if paid else amount,
        subtotal=amount,
        total=amount,
        subtotal_excluding_tax=amount,
        total_excluding_tax=amount,
        status="paid" if paid else "open",
        attempted=True,
        attempt_count=1,
        billing_reason=reason,
        amount_overpaid=0,
        shipping_cost=None,
        from_invoice=None,
        last_finalization_error=None,
        next_payment_attempt=None if paid else now() + 3 * 86400,
        lines=stripe_list([line], f"/v1/invoices/{in_id}/lines"),
        parent={
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {
                "subscription": sub["id"],
                "metadata": copy.deepcopy(sub["metadata"]),
            },
        },
        status_transitions={
            "finalized_at": now(),
            "marked_uncollectible_at": None,
            "paid_at": now() if paid else None,
            "voided_at": None,
        },
    )


# -- customers and subscriptions ---------------------------------------------------------------
def _new_customer(p: dict[str, Any]) -> str:
    cus = make(
        "customer",
        id=new_id("cus"),
        email=p.get("email"),
        name=p.get("name"),
        metadata=p.get("metadata") or {},
        discount=None,
    )
    OBJECTS[cus["id"]] = cus
    return cus["id"]


@app.post("/v1/customers")
def create_customer() -> Response:
    with _lock:
        return ok(OBJECTS[_new_customer(params())])


@app.get("/v1/customers/<cus_id>")
def retrieve_customer(cus_id: str) -> Response:
    obj = get(cus_id, "cus")
    if obj.get("deleted"):  # Stripe answers a deleted customer's stub
        return ok({"id": cus_id, "object": "customer", "deleted": True})
    return ok(obj)


@app.delete("/v1/customers/<cus_id>")
def delete_customer(cus_id: str) -> Response:
    """Stripe deletes the customer's data and cancels its subscriptions at once; the answer is
    the `deleted` stub. Deleting again is a 404 `resource_missing`, as on Stripe."""
    with _lock:
        obj = get(cus_id, "cus")
        if obj.get("deleted"):
            return error(404, f"No such customer: '{cus_id}'", "id", code="resource_missing")
        OBJECTS[cus_id] = {"id": cus_id, "object": "customer", "deleted": True}
        for sub in [o for o in OBJECTS.values() if o.get("object") == "subscription"]:
            if sub.get("customer") == cus_id and sub.get("status") not in ("canceled",):
                sub["status"] = "canceled"
                sub["canceled_at"] = now()
    return ok({"id": cus_id, "object": "customer", "deleted": True})


@app.get("/v1/subscriptions/<sub_id>")
def retrieve_subscription(sub_id: str) -> Response:
    return ok(get(sub_id, "sub"))


# What Stripe accepts with payment_behavior=pending_if_incomplete (docs: "Pending updates
# reference"; `metadata` since API 2026-05-27.dahlia, kept in pending_update.metadata).
PENDING_PARAMS = {
    "expand",
    "payment_behavior",
    "proration_behavior",
    "proration_date",
    "billing_cycle_anchor",
    "items",
    "trial_end",
    "trial_from_plan",
    "add_invoice_items",
    "metadata",
}
PENDING_TTL = 23 * 3600  # Stripe expires a pending update after 23 hours


def emit_all(events: list[tuple[str, dict[str, Any], dict[str, Any]]], *, sync: bool) -> None:
    """Deliver events in order (one after the other), now or in the background."""

    def run() -> None:
        for etype, obj, kw in events:
            deliver(make_event(etype, obj, **kw))

    if sync:
        run()
    else:
        threading.Thread(target=run, daemon=True).start()


def _declines(customer: str) -> bool:
    return bool(PRIVATE.get(customer, {}).get("decline"))


def _new_items(sub: dict[str, Any], changes: list[Any]) -> list[dict[str, Any]]:
    """The subscription's items with `changes` applied (copies; the subscription is untouched)."""
    items = copy.deepcopy(sub["items"]["data"])
    for i, change in enumerate(changes):
        item = next((it for it in items if it["id"] == change.get("id")), None)
        if item is None:
            raise BadParam(f"No such subscription item: '{change.get('id')}'", f"items[{i}][id]")
        pd = change.get("price_data") or {}
        if pd:
            get(pd.get("product", ""), "prod")
            item["price"] = _price(
                pd["product"],
                as_int(pd.get("unit_amount"), f"items[{i}][price_data][unit_amount]"),
                str(pd.get("currency") or sub["currency"]).lower(),
            )
    return items


def _proration(sub: dict[str, Any], items: list[dict[str, Any]]) -> int:
    """What switching to `items` now costs for the rest of the period (negative: a credit)."""
    old = sub["items"]["data"][0]
    start, end = old["current_period_start"], old["current_period_end"]
    left = max(0, end - now()) / max(1, end - start)
    delta = items[0]["price"]["unit_amount"] - old["price"]["unit_amount"]
    return round(delta * left)


def _charge_invoice(sub: dict[str, Any], amount: int, reason: str) -> tuple[dict[str, Any], bool]:
    """An invoice of `amount` for the subscription, paid unless the customer's card declines."""
    in_id = new_id("in")
    paid = amount <= 0 or not _declines(sub["customer"])
    invoice = _invoice(in_id, sub, paid=paid, reason=reason, amount=max(0, amount))
    OBJECTS[in_id] = invoice
    if not paid:
        PRIVATE.setdefault(in_id, {})["subscription"] = sub["id"]
    return invoice, paid


@app.post("/v1/subscriptions/<sub_id>")
def update_subscription(sub_id: str) -> Response:
    p = params()
    behavior = p.get("payment_behavior") or "allow_incomplete"
    prorate = p.get("proration_behavior") or "create_prorations"
    if behavior == "pending_if_incomplete" and set(p) - PENDING_PARAMS:
        raise BadParam(
            "When `payment_behavior` is `pending_if_incomplete`, you can only pass the"
            " following parameters: " + ", ".join(sorted(PENDING_PARAMS)) + ".",
            sorted(set(p) - PENDING_PARAMS)[0],
        )
    events: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    with _lock:
        sub = get(sub_id, "sub")
        if sub["status"] == "canceled":
            raise BadParam("A canceled subscription can only update its metadata.", None)
        items = _new_items(sub, p.get("items") or [])
        previous: dict[str, Any] = {}
        pending = False
        if "items" in p:
            amount = _proration(sub, items)
            if prorate == "always_invoice":
                invoice, paid = _charge_invoice(sub, amount, "subscription_update")
                previous["latest_invoice"] = sub["latest_invoice"]
                sub["latest_invoice"] = invoice["id"]
                events.append(("invoice.paid" if paid else "invoice.payment_failed", invoice, {}))
                if not paid and behavior == "pending_if_incomplete":
                    pending = True
                elif not paid:  # allow_incomplete: applied, and the subscription is past due
                    previous["status"] = sub["status"]
                    sub["status"] = "past_due"
            elif prorate == "create_prorations" and amount:
                # invoiced with the next renewal (or by a cancel with invoice_now)
                PRIVATE.setdefault(sub_id, {}).setdefault("pending_items", []).append(amount)
        if pending:
            previous["pending_update"] = sub.get("pending_update")
            sub["pending_update"] = {
                "billing_cycle_anchor": None,
                "discounts": None,
                "expires_at": now() + PENDING_TTL,
                "subscription_items": items,
                "trial_end": None,
                "trial_from_plan": None,
                "metadata": p.get("metadata"),
            }
        else:
            if "items" in p:
                previous["items"] = copy.deepcopy(sub["items"])
                sub["items"]["data"] = items
            if "metadata" in p:
                previous["metadata"] = copy.deepcopy(sub["metadata"])
                sub["metadata"].update(p["metadata"] or {})
        if "cancel_at_period_end" in p:
            previous["cancel_at_period_end"] = sub["cancel_at_period_end"]
            sub["cancel_at_period_end"] = as_bool(p["cancel_at_period_end"])
        snapshot = copy.deepcopy(sub)
    events.append(("customer.subscription.updated", snapshot, {"previous": previous}))
    emit_all(events, sync=False)
    return ok(snapshot)


@app.delete("/v1/subscriptions/<sub_id>")
def cancel_subscription(sub_id: str) -> Response:
    p = params()
    events: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    with _lock:
        sub = get(sub_id, "sub")
        if sub["status"] == "canceled":
            raise BadParam("This subscription is already canceled.", None)
        owed = sum(PRIVATE.get(sub_id, {}).pop("pending_items", []))
        if as_bool(p.get("prorate")):  # credit the unused rest of the period
            old = sub["items"]["data"][0]
            left = max(0, old["current_period_end"] - now())
            period = max(1, old["current_period_end"] - old["current_period_start"])
            owed -= round(old["price"]["unit_amount"] * left / period)
        if as_bool(p.get("invoice_now")) and owed > 0:
            invoice, paid = _charge_invoice(sub, owed, "subscription_cycle")
            sub["latest_invoice"] = invoice["id"]
            events.append(("invoice.paid" if paid else "invoice.payment_failed", invoice, {}))
        sub.update(status="canceled", canceled_at=now(), ended_at=now(), pending_update=None)
        snapshot = copy.deepcopy(sub)
    events.append(("customer.subscription.deleted", snapshot, {}))
    emit_all(events, sync=False)
    return ok(snapshot)


# -- refunds and payment reads -------------------------------------------------------------
@app.post("/v1/refunds")
def create_refund() -> Response:
    p = params()
    with _lock:
        if p.get("charge"):
            charge = get(p["charge"], "ch")
        elif p.get("payment_intent"):
            charge = get(get(p["payment_intent"], "pi")["latest_charge"], "ch")
        else:
            raise BadParam("One of charge or payment_intent is required.", "charge")
        remaining = charge["amount"] - charge["amount_refunded"]
        amount = as_int(p["amount"], "amount") if p.get("amount") else remaining
        if amount <= 0 or amount > remaining:
            raise BadParam(
                f"Refund amount ({amount}) is greater than unrefunded amount on "
                f"charge ({remaining}).",
                "amount",
            )
        refund = make(
            "refund",
            id=new_id("re"),
            amount=amount,
            charge=charge["id"],
            currency=charge["currency"],
            payment_intent=charge["payment_intent"],
            status="succeeded",
            reason=p.get("reason"),
            balance_transaction=new_id("txn"),
            metadata=p.get("metadata") or {},
        )
        OBJECTS[refund["id"]] = refund
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        charge["refunds"]["data"].insert(0, refund)
        snapshot = copy.deepcopy(charge)
    emit("refund.created", refund, sync=False)
    emit("charge.refunded", snapshot, sync=False, previous=previous)
    return ok(refund)


@app.get("/v1/payment_intents/<pi_id>")
def retrieve_payment_intent(pi_id: str) -> Response:
    pi = copy.deepcopy(get(pi_id, "pi"))
    expand = params().get("expand") or []
    if "latest_charge" in expand and pi.get("latest_charge"):
        pi["latest_charge"] = copy.deepcopy(OBJECTS.get(pi["latest_charge"]))
    return ok(pi)


@app.get("/v1/charges/<ch_id>")
def retrieve_charge(ch_id: str) -> Response:
    return ok(get(ch_id, "ch"))


# -- local-only helpers (tests, demos): disputes and failing renewals -------------------------
def _local_params() -> dict[str, Any]:
    if request.is_json:
        return request.get_json(silent=True) or {}
    return params()


@app.post("/_local/disputes")
def open_dispute() -> Response:
    p = _local_params()
    with _lock:
        if p.get("payment_intent"):
            charge = get(get(p["payment_intent"], "pi")["latest_charge"], "ch")
        else:
            charge = get(str(p.get("charge", "")), "ch")
        dispute = make(
            "dispute",
            id=new_id("dp"),
            amount=charge["amount"] - charge["amount_refunded"],
            charge=charge["id"],
            payment_intent=charge["payment_intent"],
            currency=charge["currency"],
            reason=p.get("reason", "fraudulent"),
            status=p.get("status", "needs_response"),
            is_charge_refundable=False,
            balance_transactions=[],
            enhanced_eligibility_types=[],
            evidence_details={
                **FIXTURES["dispute"]["evidence_details"],
                "due_by": now() + 7 * 86400,
            },
        )
        charge["disputed"] = True
        OBJECTS[dispute["id"]] = dispute
        snapshot = copy.deepcopy(dispute)
    emit("charge.dispute.created", snapshot, sync=True)
    return ok(snapshot)


@app.post("/_local/disputes/<dp_id>/close")
def close_dispute(dp_id: str) -> Response:
    status = _local_params().get("status", "lost")
    if status not in ("won", "lost", "warning_closed"):
        raise BadParam("status must be won, lost or warning_closed", "status")
    with _lock:
        dispute = get(dp_id, "dp")
        previous = {"status": dispute["status"]}
        dispute["status"] = status
        snapshot = copy.deepcopy(dispute)
    emit("charge.dispute.closed", snapshot, sync=True, previous=previous)
    return ok(snapshot)


@app.post("/_local/subscriptions/<sub_id>/fail_payment")
def fail_renewal(sub_id: str) -> Response:
    with _lock:
        sub = get(sub_id, "sub")
        invoice = _invoice(new_id("in"), sub, paid=False, reason="subscription_cycle")
        OBJECTS[invoice["id"]] = invoice
        previous = {"status": sub["status"]}
        sub.update(status="past_due", latest_invoice=invoice["id"])
        snapshot = copy.deepcopy(sub)
    emit("invoice.payment_failed", invoice, sync=True)
    emit("customer.subscription.updated", snapshot, sync=True, previous=previous)
    return ok(invoice)


@app.post("/_local/customers/<cus_id>/decline")
def decline_payments(cus_id: str) -> Response:
    """From now on the customer's card declines (`decline=false` to accept it again)."""
    with _lock:
        cus = get(cus_id, "cus")
        PRIVATE.setdefault(cus_id, {})["decline"] = as_bool(_local_params().get("decline", "true"))
    return ok(cus)


@app.post("/_local/invoices/<in_id>/pay")
def pay_invoice(in_id: str) -> Response:
    """The customer pays an open invoice (a new card, 3-D Secure done). An invoice holding a
    pending update applies it, as Stripe does: `invoice.paid`, then
    `customer.subscription.updated` and `customer.subscription.pending_update_applied`."""
    events: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    with _lock:
        invoice = get(in_id, "in")
        if invoice["status"] != "open":
            raise BadParam("Invoice is already paid.", None)
        invoice.update(
            status="paid",
            amount_paid=invoice["amount_due"],
            amount_remaining=0,
            next_payment_attempt=None,
        )
        invoice["status_transitions"]["paid_at"] = now()
        events.append(("invoice.paid", copy.deepcopy(invoice), {}))
        sub_id = PRIVATE.get(in_id, {}).get("subscription")
        sub = OBJECTS.get(sub_id or "")
        if sub is not None and sub.get("pending_update") and sub["latest_invoice"] == in_id:
            pending = sub["pending_update"]
            previous = {"items": copy.deepcopy(sub["items"]), "pending_update": pending}
            sub["items"]["data"] = pending["subscription_items"]
            if pending.get("metadata"):
                previous["metadata"] = copy.deepcopy(sub["metadata"])
                sub["metadata"].update(pending["metadata"])
            sub["pending_update"] = None
            snapshot = copy.deepcopy(sub)
            events.append(("customer.subscription.updated", snapshot, {"previous": previous}))
            events.append(("customer.subscription.pending_update_applied", snapshot, {}))
    emit_all(events, sync=True)
    return ok(invoice)


@app.get("/_local/events")
def sent_events() -> Response:
    with _lock:
        return ok({"object": "list", "data": list(reversed(EVENTS[-200:]))})


if __name__ == "__main__":  # python scripts/local_stripe.py [port]
    import sys

    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 12111, app, threaded=True)
