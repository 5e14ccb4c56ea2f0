"""Pure payment rules: plans and fees, currencies, Stripe field reading, and the state
transitions of checkouts, disputes and plan subscriptions. No I/O: service.py and
stripe_events.py read rows, ask these functions what follows, and write the answer.

Money is integer minor units of the currency, as Stripe counts it (see `CURRENCIES`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, TypedDict
from urllib.parse import urlsplit


class RuleError(ValueError):
    """A rule refused its input; the caller maps it to its own error (400/409/422)."""


class InvalidEventField(RuleError):
    """A verified Stripe event carries a field of the wrong type (answered 400)."""


# -- currencies ---------------------------------------------------------------------------
# Stripe's zero-decimal currencies (docs.stripe.com/currencies#zero-decimal): amounts are whole
# units (1000 JPY is `amount=1000`). Every other currency we support is two-decimal.
ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())


@dataclass(frozen=True)
class Currency:
    code: str
    fixed_fee: Decimal  # the fixed part of the platform fee, in major units of this currency

    @property
    def exponent(self) -> int:
        return 0 if self.code in ZERO_DECIMAL else 2

    def to_minor(self, major: Decimal) -> int:
        """Major units to Stripe's integer amount, rounded half up to a whole minor unit."""
        return int((major * (10**self.exponent)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# The currencies a course may be sold in, each with the fixed part of the platform fee in
# that currency (about 0.30 USD: a per-charge amount must not shrink 100x in JPY or KRW).
CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("usd", Decimal("0.30")),
        Currency("eur", Decimal("0.30")),
        Currency("gbp", Decimal("0.25")),
        Currency("cad", Decimal("0.40")),
        Currency("aud", Decimal("0.45")),
        Currency("chf", Decimal("0.30")),
        Currency("jpy", Decimal("50")),
        Currency("krw", Decimal("400")),
    )
}
SUPPORTED_CURRENCIES = tuple(sorted(CURRENCIES))


class UnsupportedCurrency(RuleError):
    def __init__(self, currency: str) -> None:
        self.currency = currency
        super().__init__(
            f"Payments in {currency.upper()} are not supported; use one of "
            + ", ".join(c.upper() for c in SUPPORTED_CURRENCIES)
            + "."
        )


def currency(code: str) -> Currency:
    """The supported currency `code` (any case); UnsupportedCurrency otherwise."""
    found = CURRENCIES.get(code.lower()) if isinstance(code, str) else None
    if found is None:
        raise UnsupportedCurrency(str(code))
    return found


# -- plans --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    key: str
    max_published_courses: int | None  # None = unlimited
    fee_percent_bps: int  # platform fee, basis points of the charge
    fee_fixed_minor: int  # plus a fixed part, in minor units of the plan's currency (USD)
    recording_retention_days: int
    monthly_price_minor: int = 0  # what the channel pays per month (0 = free plan)
    currency: str = "usd"
    name: str = ""

    @property
    def charges_fixed_fee(self) -> bool:
        return self.fee_fixed_minor > 0


PLANS: dict[str, Plan] = {
    "free": Plan("free", 3, 1000, 30, 30, 0, "usd", "Free"),
    "pro": Plan("pro", 50, 500, 30, 180, 2900, "usd", "Pro"),
    "business": Plan("business", None, 200, 0, 365, 9900, "usd", "Business"),
}
FREE = "free"


def get_plan(key: str) -> Plan:
    """The plan called `key`; an unknown key counts as free (never a paid limit by accident)."""
    return PLANS.get(key, PLANS[FREE])


def plan_in_force(plan: str | None, plan_status: str | None) -> Plan:
    """A channel's plan from its row (a canceled plan, or no row, counts as free).

    A channel in `grace` (its last plan invoice failed, Stripe is retrying) keeps its plan
    until Stripe gives up and cancels the subscription."""
    if plan is None or plan_status == "canceled":
        return PLANS[FREE]
    return get_plan(plan)


def platform_fee(plan: Plan, amount_minor: int, currency_code: str) -> int:
    """Integer fee in minor units of `currency_code`: the plan's percentage (rounded half up)
    plus the currency's own fixed part when the plan charges one, capped at the amount."""
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or amount_minor < 0:
        raise ValueError("amount_minor must be a non-negative int (minor units)")
    cur = currency(currency_code)
    fixed = cur.to_minor(cur.fixed_fee) if plan.charges_fixed_fee else 0
    fee = (amount_minor * plan.fee_percent_bps + 5000) // 10000 + fixed
    return min(fee, amount_minor)


def publish_limit_reached(plan: Plan, published_count: int) -> bool:
    return plan.max_published_courses is not None and published_count >= plan.max_published_courses


class MoneyInfo(TypedDict):
    amount: int
    currency: str


class PlanInfo(TypedDict):
    """PlanOut: the public description of a plan."""

    key: str
    name: str
    price: MoneyInfo
    interval: str
    limits: dict[str, int | None]
    platform_fee: dict[str, Any]


def plan_out(plan: Plan) -> PlanInfo:
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


class PlanAction(StrEnum):
    CHECKOUT = "checkout"
    UPDATING = "updating"
    CANCELING = "canceling"
    UNCHANGED = "unchanged"


def plan_change_action(*, current: str, target: str, live_subscription: bool) -> PlanAction:
    """What POST {c}/plan does: subscribe through Checkout, switch the live subscription's
    price, cancel it (down to free), or nothing."""
    if target == current and (live_subscription or target == FREE):
        return PlanAction.UNCHANGED
    if target == FREE:
        return PlanAction.CANCELING if live_subscription else PlanAction.UNCHANGED
    if not live_subscription:
        return PlanAction.CHECKOUT
    return PlanAction.UPDATING


# -- course checkout ----------------------------------------------------------------------
@dataclass(frozen=True)
class CheckoutRefusal:
    status: int  # 404 or 409 or 422
    detail: str


@dataclass(frozen=True)
class CheckoutFacts:
    """What the database says about a course checkout request."""

    course: dict[str, Any] | None  # id, title, price_amount, price_currency (published only)
    charges_enabled: bool
    stripe_account_id: str | None
    batch_requested: bool
    batch: dict[str, Any] | None  # capacity, seats_taken
    already_enrolled: bool


@dataclass(frozen=True)
class CheckoutTerms:
    amount: int
    currency: str
    fee: int


def checkout_terms(facts: CheckoutFacts, plan: Plan) -> CheckoutTerms | CheckoutRefusal:
    """May this checkout start, and at which amount and platform fee?"""
    course = facts.course
    if course is None:
        return CheckoutRefusal(404, "No such course.")
    if course["price_amount"] is None:
        return CheckoutRefusal(409, "This course is free: enroll with POST .../enroll instead.")
    if not facts.charges_enabled or not facts.stripe_account_id:
        return CheckoutRefusal(409, "This channel cannot take payments yet.")
    if facts.batch_requested:
        if facts.batch is None:
            return CheckoutRefusal(404, "No such batch for this course.")
        cap = facts.batch["capacity"]
        if cap is not None and facts.batch["seats_taken"] >= cap:
            return CheckoutRefusal(409, "This batch is full.")
    if facts.already_enrolled:
        return CheckoutRefusal(409, "Already enrolled in this course.")
    amount, code = int(course["price_amount"]), str(course["price_currency"])
    try:
        fee = platform_fee(plan, amount, code)
    except UnsupportedCurrency as e:
        return CheckoutRefusal(422, str(e))
    return CheckoutTerms(amount=amount, currency=code, fee=fee)


def checkout_metadata(
    *, channel_id: str, course_id: str, user_id: str, batch_id: str | None
) -> dict[str, str]:
    meta = {"channel_id": channel_id, "course_id": course_id, "user_id": user_id}
    if batch_id:
        meta["batch_id"] = batch_id
    return meta


# -- redirect URLs -------------------------------------------------------------------------
_DEFAULT_PORTS = {"https": 443, "http": 80}


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an absolute http(s) URL, lower-cased, default port dropped."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def channel_redirect_origins(channel: dict[str, Any]) -> set[str]:
    """The https origins a channel lists for redirects: its `redirect_origins` setting (a
    column, or a key of its `settings`), whichever exists; anything not https is dropped."""
    listed = channel.get("redirect_origins")
    if listed is None and isinstance(channel.get("settings"), dict):
        listed = channel["settings"].get("redirect_origins")
    if not isinstance(listed, list):
        return set()
    origins = {origin_of(x) for x in listed if isinstance(x, str)}
    return {o for o in origins if o is not None and o.startswith("https://")}


def disallowed_redirects(urls: dict[str, str | None], allowed: set[str]) -> list[str]:
    """The names of the given URLs whose origin is not allowed (absent URLs pass)."""
    return [name for name, url in urls.items() if url is not None and origin_of(url) not in allowed]


# -- reading Stripe objects ---------------------------------------------------------------
class Status(StrEnum):
    """What processing one Stripe event came to (stored in stripe_events.status)."""

    PROCESSED = "processed"
    IGNORED = "ignored"
    DEFERRED = "deferred"


@dataclass(frozen=True)
class Outcome:
    status: Status
    detail: str


def processed(detail: str) -> Outcome:
    return Outcome(Status.PROCESSED, detail)


def ignored(detail: str) -> Outcome:
    return Outcome(Status.IGNORED, detail)


def id_of(value: Any) -> str | None:
    """A Stripe reference is either an id string or an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def int_amount(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEventField(f"Stripe event field {what} is not an integer amount.")
    return value


def event_time(event: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(event["created"], UTC)


def timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int) else None


def invoice_subscription(inv: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The subscription an invoice bills and its metadata (new and old API shapes)."""
    details = (
        (inv.get("parent") or {}).get("subscription_details")
        or inv.get("subscription_details")
        or {}
    )
    sub = id_of(details.get("subscription")) or id_of(inv.get("subscription"))
    return sub, details.get("metadata") or {}


def plan_key(*metadatas: Any) -> str | None:
    for meta in metadatas:
        p = meta.get("plan") if isinstance(meta, dict) else None
        if isinstance(p, str) and p in PLANS:
            return p
    return None


def period_end(sub: dict[str, Any]) -> datetime | None:
    end = sub.get("current_period_end")
    if end is None:  # since API 2025-03-31 the period lives on the items
        items = (sub.get("items") or {}).get("data") or [{}]
        end = items[0].get("current_period_end")
    return timestamp(end)


# -- plan subscriptions -------------------------------------------------------------------
ACTIVE = frozenset({"active", "trialing"})
GRACE = frozenset({"past_due", "unpaid"})
ENDED = frozenset({"canceled", "incomplete_expired"})


def projected_plan(*, status: str, plan: str, before: tuple[str, str]) -> tuple[str, str]:
    """channels.(plan, plan_status) for a subscription in `status` billing `plan`."""
    if status in ACTIVE:
        return plan, "active"
    if status in GRACE:
        return plan, "grace"
    if status in ENDED:
        return FREE, "active"
    return before  # incomplete, paused: the first payment is not through yet


def subscription_plan(sub: dict[str, Any], held: str) -> str:
    """The plan a subscription object bills. While a pending update waits for its payment
    (`pending_update` set) the subscription still bills what it billed: the new plan is
    granted only by the event that applies the update once the invoice is paid."""
    if sub.get("pending_update"):
        return held
    return plan_key(sub.get("metadata")) or held


def is_plan_change_invoice(inv: dict[str, Any]) -> bool:
    """The invoice of a plan change (`billing_reason=subscription_update`, the proration
    invoiced at once). It moves money but never the plan: paid, Stripe applies the pending
    update and says so with the subscription's own event; failed, the update stays pending
    (the subscription is still active on its old price, so no grace either)."""
    return inv.get("billing_reason") == "subscription_update"


# -- disputes -----------------------------------------------------------------------------
OUTCOMES = {"won": "won", "lost": "lost", "warning_closed": "inquiry_closed"}


@dataclass(frozen=True)
class DisputeFacts:
    """One Stripe dispute object as this platform stores it."""

    dispute_id: str
    payment_intent: str | None
    charge: str | None
    amount: int
    currency: str
    status: str
    reason: str | None
    outcome: str | None
    evidence_due_by: datetime | None
    opened_at: datetime
    closed_at: datetime | None
    version: int


def read_dispute(event: dict[str, Any], d: dict[str, Any]) -> DisputeFacts | None:
    dispute_id = id_of(d.get("id"))
    if dispute_id is None:
        return None
    status = str(d.get("status") or "needs_response")
    outcome = OUTCOMES.get(status)
    return DisputeFacts(
        dispute_id=dispute_id,
        payment_intent=id_of(d.get("payment_intent")),
        charge=id_of(d.get("charge")),
        amount=int_amount(d.get("amount"), "amount"),
        currency=str(d.get("currency") or "usd").lower(),
        status=status,
        reason=d.get("reason"),
        outcome=outcome,
        evidence_due_by=timestamp((d.get("evidence_details") or {}).get("due_by")),
        opened_at=timestamp(d.get("created")) or event_time(event),
        closed_at=event_time(event) if outcome else None,
        version=int(event["created"]),
    )


def dispute_update_applies(
    *, stored_outcome: str | None, stored_version: int, version: int
) -> bool:
    """A closed dispute is final; an older event never rolls an open one back."""
    return stored_outcome is None and version >= stored_version


@dataclass(frozen=True)
class LedgerMove:
    key: str
    kind: str
    amount: int


@dataclass(frozen=True)
class DisputeEffects:
    ledger: list[LedgerMove] = field(default_factory=list)
    lost: bool = False  # the payment is marked lost and its enrollment ends
    audit_action: str | None = None  # dispute.opened / dispute.closed, when something changed
    publish_opened: bool = False  # the `dispute.opened` domain event


def dispute_effects(
    *,
    dispute_id: str,
    status: str,
    outcome: str | None,
    amount: int,
    opened_now: bool,
    newly_closed: bool,
) -> DisputeEffects:
    """What a dispute in this state means for the ledger, the buyer and the channel. Ledger
    moves are keyed, so stating them again on every event adds nothing twice."""
    moves = []
    # A chargeback withdraws the funds when it opens; an inquiry (warning_*) moves no money.
    if not status.startswith("warning_"):
        moves.append(LedgerMove(f"dispute:{dispute_id}", "dispute", -amount))
    if outcome == "won":
        moves.append(LedgerMove(f"dispute_won:{dispute_id}", "dispute_won", amount))
    audit_action = None
    if opened_now or newly_closed:
        audit_action = "dispute.closed" if outcome else "dispute.opened"
    return DisputeEffects(
        ledger=moves,
        lost=outcome == "lost",
        audit_action=audit_action,
        publish_opened=opened_now,
    )


def dispute_detail(status: str, enrollment_ended: bool) -> str:
    return f"dispute {status}" + (", enrollment ended" if enrollment_ended else "")
