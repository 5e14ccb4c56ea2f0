"""Payment use cases: payouts onboarding, course checkout, channel plans, the disputes queue.

Stripe is called between transactions (never while holding a row lock); the Stripe adapter is
imported lazily so routes that do not talk to Stripe never load the SDK. State that Stripe owns
(account readiness, payments, subscriptions) changes only when its webhook arrives
(shared/stripe_events.py): a redirect or an API answer never grants anything.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from shared.billing.plans import plan_of
from shared.billing.rules import (
    ENDED,
    PLANS,
    CheckoutFacts,
    CheckoutRefusal,
    PlanAction,
    channel_redirect_origins,
    checkout_metadata,
    checkout_terms,
    disallowed_redirects,
    get_plan,
    origin_of,
    plan_change_action,
    plan_out,
)
from shared.billing.schemas import (
    ChannelPlan,
    Checkout,
    CheckoutIn,
    Dispute,
    DisputePage,
    DisputeQuery,
    Onboarding,
    OnboardingIn,
    PayoutAccount,
    PlanChange,
    PlanChangeIn,
    PlanPage,
)
from shared.channels import check_channel_id, require
from shared.platform import audit
from shared.platform.config import settings
from shared.platform.db import Tx, transaction
from shared.platform.errors import Conflict, DomainError, NotFound, Unprocessable
from shared.platform.ids import is_uuid
from shared.platform.pagination import decode_cursor, page

_REFUSALS: dict[int, type[DomainError]] = {404: NotFound, 409: Conflict, 422: Unprocessable}


def _stripe():  # the adapter imports the SDK: only when a use case needs it
    from shared.adapters import stripe_api

    return stripe_api


def _check_redirects(tx: Tx, urls: dict[str, str | None]) -> None:
    """422 unless every redirect URL is on the platform's public origin or on an https origin
    the channel lists (issue 16 item 7): a checkout link must not land a buyer elsewhere."""
    row = tx.one("SELECT to_jsonb(c) AS c FROM channels c WHERE c.id = app_channel_id()")
    allowed = channel_redirect_origins(row["c"] if row else {})
    platform = origin_of(settings().public_base_url)
    if platform:
        allowed.add(platform)
    bad = disallowed_redirects(urls, allowed)
    if bad:
        raise Unprocessable(
            "Redirect URLs must be on the platform's origin or an origin the channel lists"
            " in its redirect_origins setting.",
            errors=[{"loc": ["body", name], "msg": "origin not allowed"} for name in bad],
        )


# -- payouts (Connect Express) ----------------------------------------------------------------
def start_onboarding(*, channel_id: str, user_id: str, body: OnboardingIn) -> Onboarding:
    """A Connect onboarding link for the channel owner; creates the Express account once."""
    check_channel_id(channel_id)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        require(tx, user_id, "billing.onboard")
        _check_redirects(tx, {"return_url": body.return_url, "refresh_url": body.refresh_url})
        ch = tx.one("SELECT slug, stripe_account_id FROM channels WHERE id = app_channel_id()")
        email = tx.scalar("SELECT email FROM users WHERE id = :u", u=user_id)
    assert ch is not None
    stripe_api = _stripe()
    account_id = ch["stripe_account_id"]
    if account_id is None:
        # Same idempotency key for every attempt: concurrent or retried calls get one account.
        account = stripe_api.create_express_account(
            channel_id=channel_id, email=email, idempotency_key=f"express-account:{channel_id}"
        )
        with transaction(channel_id=channel_id, user_id=user_id) as tx:
            account_id = tx.scalar(
                "UPDATE channels SET stripe_account_id = coalesce(stripe_account_id, :a),"
                " updated_at = now() WHERE id = app_channel_id() RETURNING stripe_account_id",
                a=account["id"],
            )
            tx.exec(
                "INSERT INTO payout_accounts (channel_id, stripe_account_id)"
                " VALUES (app_channel_id(), :a) ON CONFLICT (channel_id) DO NOTHING",
                a=account_id,
            )
            if account_id == account["id"]:
                audit.record(
                    tx,
                    action="payouts.account_created",
                    channel_id=channel_id,
                    actor_user_id=user_id,
                    target_type="stripe_account",
                    target_id=account_id,
                )
    page_url = f"{settings().public_base_url.rstrip('/')}/ch/{ch['slug']}"
    link = stripe_api.create_account_link(
        account_id=account_id,
        refresh_url=body.refresh_url or f"{page_url}?payouts=refresh",
        return_url=body.return_url or f"{page_url}?payouts=done",
    )
    expires = link.get("expires_at")
    return {
        "url": link["url"],
        "expires_at": datetime.fromtimestamp(expires, UTC) if isinstance(expires, int) else None,
    }


def payout_account(*, channel_id: str, user_id: str) -> PayoutAccount:
    check_channel_id(channel_id)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        require(tx, user_id, "billing.manage")
        ch = tx.one(
            "SELECT stripe_account_id, charges_enabled, payouts_enabled FROM channels"
            " WHERE id = app_channel_id()"
        )
        pa = tx.one(
            "SELECT details_submitted, requirements_due FROM payout_accounts"
            " WHERE channel_id = app_channel_id()"
        )
    assert ch is not None
    return {
        "stripe_account_id": ch["stripe_account_id"],
        "charges_enabled": ch["charges_enabled"],
        "payouts_enabled": ch["payouts_enabled"],
        "details_submitted": bool(pa and pa["details_submitted"]),
        "requirements_due": list((pa or {}).get("requirements_due") or []),
    }


# -- course checkout --------------------------------------------------------------------------
def create_course_checkout(
    *, channel_id: str, course_id: str, user_id: str, body: CheckoutIn
) -> Checkout:
    """A Stripe Checkout Session for a published, priced course of a channel that can take
    charges. The enrollment is created only by the webhook when the payment succeeds."""
    check_channel_id(channel_id)
    if not is_uuid(course_id):
        raise NotFound("No such course.")
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        facts = _checkout_facts(tx, course_id=course_id, user_id=user_id, batch_id=body.batch_id)
        terms = checkout_terms(facts, plan_of(tx))
        if isinstance(terms, CheckoutRefusal):
            raise _REFUSALS[terms.status](terms.detail)
        # after the refusals: another channel's course is 404 whatever the URLs say
        _check_redirects(tx, {"success_url": body.success_url, "cancel_url": body.cancel_url})
        email = tx.scalar("SELECT email FROM users WHERE id = :u", u=user_id)
    assert facts.course is not None and facts.stripe_account_id is not None
    session = _stripe().create_course_checkout(
        amount=terms.amount,
        currency=terms.currency,
        product_name=facts.course["title"],
        fee=terms.fee,
        destination=facts.stripe_account_id,
        metadata=checkout_metadata(
            channel_id=channel_id, course_id=course_id, user_id=user_id, batch_id=body.batch_id
        ),
        success_url=body.success_url,
        cancel_url=body.cancel_url,
        customer_email=email,
    )
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        tx.exec(
            "INSERT INTO checkout_sessions (id, channel_id, purpose, user_id, course_id, batch_id,"
            " amount, currency, application_fee_amount, destination_account)"
            " VALUES (:id, app_channel_id(), 'course', :u, :c, :b, :a, :cur, :fee, :d)",
            id=session["id"],
            u=user_id,
            c=course_id,
            b=body.batch_id,
            a=terms.amount,
            cur=terms.currency,
            fee=terms.fee,
            d=facts.stripe_account_id,
        )
    return {"checkout_url": session["url"], "session_id": session["id"]}


def _checkout_facts(tx: Tx, *, course_id: str, user_id: str, batch_id: str | None) -> CheckoutFacts:
    course = tx.one(
        "SELECT id, title, status, price_amount, price_currency FROM courses"
        " WHERE id = :c AND channel_id = app_channel_id() AND status = 'published'",
        c=course_id,
    )
    ch = tx.one(
        "SELECT stripe_account_id, charges_enabled FROM channels WHERE id = app_channel_id()"
    )
    batch = None
    if batch_id is not None and course is not None:
        batch = tx.one(
            "SELECT capacity, seats_taken FROM batches WHERE id = :b"
            " AND course_id = :c AND channel_id = app_channel_id()",
            b=batch_id,
            c=course_id,
        )
    enrolled = course is not None and bool(
        tx.scalar(
            "SELECT 1 FROM enrollments WHERE channel_id = app_channel_id()"
            " AND course_id = :c AND user_id = :u AND status = 'active'",
            c=course_id,
            u=user_id,
        )
    )
    return CheckoutFacts(
        course=course,
        charges_enabled=bool(ch and ch["charges_enabled"]),
        stripe_account_id=ch["stripe_account_id"] if ch else None,
        batch_requested=batch_id is not None,
        batch=batch,
        already_enrolled=enrolled,
    )


# -- channel plans ----------------------------------------------------------------------------
def list_plans() -> PlanPage:
    return {"items": [plan_out(p) for p in PLANS.values()], "next_cursor": None}


def _plan_state(tx: Tx) -> tuple[ChannelPlan, dict[str, Any]]:
    """The channel's plan as answered, and its channel_subscriptions row ({} when none)."""
    ch = tx.one("SELECT id, plan, plan_status FROM channels WHERE id = app_channel_id()")
    sub = tx.one("SELECT * FROM channel_subscriptions WHERE channel_id = app_channel_id()") or {}
    assert ch is not None
    plan = plan_of(tx)
    return {
        "channel_id": str(ch["id"]),
        "plan": plan_out(plan),
        "status": ch["plan_status"],
        "subscription_status": sub.get("status") or "none",
        "current_period_end": sub.get("current_period_end"),
        "cancel_at_period_end": bool(sub.get("cancel_at_period_end")),
    }, sub


def get_channel_plan(*, channel_id: str, user_id: str) -> ChannelPlan:
    check_channel_id(channel_id)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        require(tx, user_id, "billing.manage")
        state, _sub = _plan_state(tx)
    return state


def change_plan(*, channel_id: str, user_id: str, body: PlanChangeIn) -> PlanChange:
    """Subscribe (Checkout in subscription mode), switch price or cancel (downgrade to free).
    The channel's plan itself changes when Stripe's webhook confirms it: a price switch is a
    pending update that Stripe applies only once its prorated invoice is paid."""
    check_channel_id(channel_id)
    target = get_plan(body.plan)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        require(tx, user_id, "billing.manage")
        _check_redirects(tx, {"success_url": body.success_url, "cancel_url": body.cancel_url})
        state, sub = _plan_state(tx)
        ch = tx.one("SELECT name FROM channels WHERE id = app_channel_id()")
        email = tx.scalar("SELECT email FROM users WHERE id = :u", u=user_id)
        audit.record(
            tx,
            action="plan.change_requested",
            channel_id=channel_id,
            actor_user_id=user_id,
            target_type="channel",
            target_id=channel_id,
            details={"from": state["plan"]["key"], "to": target.key},
        )
    live_sub = sub.get("stripe_subscription_id") if sub.get("status") not in ENDED else None
    action = plan_change_action(
        current=state["plan"]["key"], target=target.key, live_subscription=bool(live_sub)
    )
    stripe_api = _stripe()
    checkout: Checkout | None = None
    if action is PlanAction.CANCELING:
        stripe_api.cancel_subscription(live_sub)
    elif action is PlanAction.UPDATING:
        current = stripe_api.retrieve_subscription(live_sub)
        stripe_api.change_subscription_price(
            subscription=current,
            plan_key=target.key,
            amount=target.monthly_price_minor,
            currency=target.currency,
        )
    elif action is PlanAction.CHECKOUT:
        checkout = _plan_checkout(
            channel_id=channel_id,
            user_id=user_id,
            body=body,
            customer=sub.get("stripe_customer_id"),
            email=email,
            name=ch["name"] if ch else "",
        )
    return {
        "action": action.value,
        "checkout_url": checkout["checkout_url"] if checkout else None,
        "session_id": checkout["session_id"] if checkout else None,
        "current": state,
    }


def _plan_checkout(
    *,
    channel_id: str,
    user_id: str,
    body: PlanChangeIn,
    customer: str | None,
    email: str | None,
    name: str,
) -> Checkout:
    if not body.success_url or not body.cancel_url:
        raise Unprocessable(
            "success_url and cancel_url are required to subscribe.",
            errors=[{"loc": ["body", "success_url"], "msg": "required to start a checkout"}],
        )
    target = get_plan(body.plan)
    customer = customer or _ensure_customer(
        channel_id=channel_id, user_id=user_id, email=email, name=name
    )
    session = _stripe().create_plan_checkout(
        customer=customer,
        plan_key=target.key,
        plan_name=target.name or target.key,
        amount=target.monthly_price_minor,
        currency=target.currency,
        metadata={"channel_id": channel_id, "user_id": user_id},
        success_url=body.success_url,
        cancel_url=body.cancel_url,
    )
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        tx.exec(
            "INSERT INTO checkout_sessions (id, channel_id, purpose, user_id, plan,"
            " amount, currency) VALUES (:id, app_channel_id(), 'plan', :u, :p, :a, :c)",
            id=session["id"],
            u=user_id,
            p=target.key,
            a=target.monthly_price_minor,
            c=target.currency,
        )
    return {"checkout_url": session["url"], "session_id": session["id"]}


def _ensure_customer(*, channel_id: str, user_id: str, email: str | None, name: str) -> str:
    customer = _stripe().create_customer(
        channel_id=channel_id, email=email, name=name, idempotency_key=f"plan-customer:{channel_id}"
    )
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        return tx.scalar(
            "INSERT INTO channel_subscriptions (channel_id, stripe_customer_id)"
            " VALUES (app_channel_id(), :c) ON CONFLICT (channel_id) DO UPDATE SET"
            " stripe_customer_id = coalesce(channel_subscriptions.stripe_customer_id,"
            " EXCLUDED.stripe_customer_id) RETURNING stripe_customer_id",
            c=customer["id"],
        )


# -- disputes queue ---------------------------------------------------------------------------
_DISPUTE_COLUMNS = (
    "d.id, d.stripe_dispute_id, d.status, d.outcome, d.reason, d.amount, d.currency,"
    " d.payment_id, p.course_id, p.user_id, d.evidence_due_by, d.opened_at, d.closed_at"
)


def _dispute_out(r: dict[str, Any]) -> Dispute:
    out = dict(r)
    out["amount"] = {"amount": int(r["amount"]), "currency": out.pop("currency")}
    return cast(Dispute, out)


def list_disputes(*, channel_id: str, user_id: str, query: DisputeQuery) -> DisputePage:
    """The channel's disputes, newest first; `status=open|closed` filters."""
    check_channel_id(channel_id)
    limit, status = query.limit, query.status
    after = decode_cursor(query.cursor)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        require(tx, user_id, "disputes.read")
        where = ["d.channel_id = app_channel_id()"]
        params: dict[str, Any] = {"n": limit + 1}
        if status == "open":
            where.append("d.outcome IS NULL")
        elif status == "closed":
            where.append("d.outcome IS NOT NULL")
        if after:
            try:
                params["t"] = datetime.fromisoformat(str(after["t"]).replace("Z", "+00:00"))
                params["i"] = str(after["i"])
            except (KeyError, ValueError) as e:
                raise Unprocessable(
                    "Invalid cursor.",
                    errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}],
                ) from e
            if not is_uuid(params["i"]):
                raise Unprocessable(
                    "Invalid cursor.",
                    errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}],
                )
            where.append("(d.opened_at, d.id) < (:t, CAST(:i AS uuid))")
        rows = tx.all(
            f"SELECT {_DISPUTE_COLUMNS} FROM disputes d LEFT JOIN payments p ON p.id = d.payment_id"
            f" WHERE {' AND '.join(where)} ORDER BY d.opened_at DESC, d.id DESC LIMIT :n",
            **params,
        )
    found = page(rows, limit, lambda r: {"t": r["opened_at"], "i": r["id"]})
    return {"items": [_dispute_out(r) for r in found["items"]], "next_cursor": found["next_cursor"]}


def get_dispute(*, channel_id: str, user_id: str, dispute_id: str) -> Dispute:
    check_channel_id(channel_id)
    if not is_uuid(dispute_id):
        raise NotFound("No such dispute.")
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        require(tx, user_id, "disputes.read")
        row = tx.one(
            f"SELECT {_DISPUTE_COLUMNS} FROM disputes d LEFT JOIN payments p"
            " ON p.id = d.payment_id WHERE d.channel_id = app_channel_id()"
            " AND d.id = :id",
            id=dispute_id,
        )
    if row is None:
        raise NotFound("No such dispute.")
    return _dispute_out(row)
