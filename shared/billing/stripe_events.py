"""Stripe webhook handling: verify, record once, apply in the channel's transaction.

Verification. `Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]` is HMAC-SHA256 with the endpoint
secret over `"<t>." + raw body`, compared in constant time against every v1 value; the timestamp
must be within 300 s of now (either side). A missing/garbled header, a wrong signature or a stale
timestamp is a 400 and nothing is written (the rejection is logged, not stored: an unauthenticated
caller must not be able to grow any table).

Exactly once. Each verified event id is claimed in `stripe_events` (primary key) inside the same
transaction that applies its effects: a redelivery is answered 200 and changes nothing; two
concurrent deliveries serialize on the key and the second sees the first. Effects are also keyed
(ledger `entry_key`, `payments (channel_id, payment_intent_id)`, one enrollment per payment), so
even two *different* events about the same payment cannot double-count.

Out of order. Stripe does not order deliveries. Payments are created by whichever event about
them arrives first (a refund may precede the checkout completion). Subscription, payout-account
and dispute state store the `created` time of the newest event applied (`state_version`); an
older event never rolls them back (equal times apply in arrival order), a canceled subscription
and a closed dispute are final. An event whose channel cannot be resolved yet (a dispute about a
payment we have not seen) is kept as `deferred` and replayed when that payment's checkout
completes (or by the daily reconcile cron).

Policy on refunds and disputes (README "Payments"):
- A paid enrollment exists only after `checkout.session.completed` with `payment_status=paid`
  (or `checkout.session.async_payment_succeeded`), never from the redirect.
- A full refund (`charge.refunded` with `refunded=true`) ends the enrollment (reason `refunded`).
  A partial refund is recorded in the ledger and keeps access (a goodwill/partial credit).
- A dispute (`charge.dispute.created`) lands in the channel's admin queue (GET {c}/disputes) with
  an audit row; access continues while it is open. A dispute closed as `lost` ends the
  enrollment (reason `dispute_lost`); `won` reinstates the funds in the ledger.
- If the refund or lost dispute is seen before the completion, the completion records the money
  but creates no enrollment (fulfillment `withheld`).
- A paid checkout that cannot be fulfilled (already enrolled through another purchase, batch
  full) is recorded with fulfillment `failed` and audited for the channel to refund.

Plans: `customer.subscription.*`, `invoice.paid` and `invoice.payment_failed` keep
`channel_subscriptions` and its projection `channels.plan/plan_status` current: active/trialing
-> active; past_due/unpaid or a failed invoice -> `grace` (limits kept while Stripe retries);
canceled (deleted) -> downgraded to `free`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.billing import ledger
from shared.billing.rules import (
    ENDED,
    DisputeFacts,
    InvalidEventField,
    Outcome,
    Status,
    dispute_detail,
    dispute_effects,
    dispute_update_applies,
    event_time,
    id_of,
    ignored,
    int_amount,
    invoice_subscription,
    is_plan_change_invoice,
    period_end,
    plan_key,
    processed,
    projected_plan,
    read_dispute,
    subscription_plan,
)
from shared.billing.schemas import WebhookReceipt
from shared.learning import create_enrollment, end_enrollment
from shared.platform import audit, outbox
from shared.platform.config import settings
from shared.platform.db import Tx, transaction
from shared.platform.errors import BadRequest, DomainError
from shared.platform.ids import is_uuid, uuid7
from shared.platform.log import log_context

log = logging.getLogger("stripe_events")
TOLERANCE_SECONDS = 300
REJECTED_METRIC = "webhook_rejected"  # the log-based metric counting refused deliveries
AUDIT_SAMPLE_SECONDS = 60.0  # at most one audit row per process per minute for rejections


# -- verification ---------------------------------------------------------------------------
def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe would send for `payload` (tests, local stand-in)."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: int | None = None,
) -> dict[str, Any]:
    """The event, if `header` signs the raw `payload`; BadRequest otherwise."""
    if not header or len(header) > 4096:
        raise BadRequest("Missing Stripe-Signature header.")
    timestamp: str | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not timestamp.isdigit() or not signatures:
        raise BadRequest("Malformed Stripe-Signature header.")
    # `secret` may list several endpoint secrets, comma-separated (the platform endpoint and
    # the Connect endpoint have their own; rotation overlaps two). Every v1 is compared
    # against every secret in constant time, without short-circuiting.
    matches = []
    for one in (x.strip() for x in secret.split(",") if x.strip()):
        expected = hmac.new(
            one.encode(), timestamp.encode() + b"." + payload, hashlib.sha256
        ).hexdigest()
        matches += [hmac.compare_digest(expected.encode(), s.encode()) for s in signatures]
    if not any(matches):
        raise BadRequest("No valid signature for this payload.")
    current = int(time.time()) if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        raise BadRequest("Signature timestamp is outside the tolerance.")
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest("The event is not valid JSON.") from e
    _check_shape(event)
    return event


def _check_shape(event: Any) -> None:
    ok = (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and event["id"].startswith("evt_")
        and event["id"][4:].replace("_", "").isalnum()
        and len(event["id"]) <= 255
        and isinstance(event.get("type"), str)
        and isinstance(event.get("created"), int)
        and not isinstance(event["created"], bool)
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
    )
    if not ok:
        raise BadRequest("Not a Stripe event.")


class RejectionSampler:
    """Rejected deliveries are counted in the logs (a log-based metric on `metric`), never
    one audit row each: an unauthenticated flood must not queue on the platform audit
    chain. At most one audit row per `every` seconds per process records how many were
    refused since the last one."""

    def __init__(
        self, every: float = AUDIT_SAMPLE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.every, self.clock = every, clock
        self._lock = threading.Lock()
        self._next: float | None = None
        self._since = 0

    def take(self) -> int | None:
        """Count one rejection; the number to audit now (this one included), or None."""
        with self._lock:
            self._since += 1
            now = self.clock()
            if self._next is not None and now < self._next:
                return None
            self._next, count, self._since = now + self.every, self._since, 0
            return count


rejections = RejectionSampler()


def reject(*, provider: str, reason: str) -> None:
    """Log (and maybe sample into the audit chain) a delivery that failed verification."""
    log.warning(
        "rejected %s webhook: %s",
        provider,
        reason,
        extra={"fields": {"metric": REJECTED_METRIC, "provider": provider, "reason": reason}},
    )
    count = rejections.take()
    if count is None:
        return
    with transaction() as tx:
        audit.record(
            tx,
            action="webhook.rejected",
            channel_id=None,
            actor_user_id=None,
            target_type="webhook",
            target_id=provider,
            details={"reason": reason, "rejected_since_last_sample": count},
        )


def handle(*, payload: bytes, signature: str | None) -> WebhookReceipt:
    """The webhook use case: verify the raw bytes, then process the event once."""
    secret = settings().stripe_webhook_secret.get_secret_value()
    try:
        event = verify(payload, signature, secret)
    except BadRequest as e:
        reject(provider="stripe", reason=e.detail)
        raise
    return process(event)


# -- dispatch -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Handler:
    resolve: Callable[[Tx, dict[str, Any]], tuple[str | None, str | None]]  # channel, related
    apply: Callable[[Tx, dict[str, Any], dict[str, Any]], Outcome]


def _apply(handler: Handler, tx: Tx, event: dict[str, Any]) -> Outcome:
    try:
        return handler.apply(tx, event, event["data"]["object"])
    except InvalidEventField as e:  # a verified event with a malformed amount: 400
        raise BadRequest(str(e)) from e


def _unapplied(handler: Handler | None, related: str | None) -> Outcome:
    """The outcome of an event that cannot be applied (no handler, no channel yet)."""
    if handler is None:
        return ignored("event type not handled")
    if related:
        return Outcome(Status.DEFERRED, "channel not known yet")
    return ignored("no channel for this object")


def process(event: dict[str, Any]) -> WebhookReceipt:
    obj = event["data"]["object"]
    handler = HANDLERS.get(event["type"])
    channel_id = related = None
    if handler is not None:
        with transaction() as tx:
            channel_id, related = handler.resolve(tx, obj)
    ctx = log_context.get()
    if ctx is not None and channel_id:
        ctx["channel_id"] = channel_id
    with transaction(channel_id=channel_id) as tx:
        if not _claim(tx, event):
            return {"received": True, "duplicate": True}
        if handler is None or channel_id is None:
            outcome = _unapplied(handler, related)
        else:
            outcome = _apply(handler, tx, event)
        deferred = outcome.status is Status.DEFERRED
        _finish(tx, event["id"], outcome, related, event if deferred else None)
    log.info(
        "stripe event %s %s: %s (%s)", event["id"], event["type"], outcome.status, outcome.detail
    )
    return {"received": True, "duplicate": False, "status": outcome.status.value}


def _claim(tx: Tx, event: dict[str, Any]) -> bool:
    row = tx.one(
        "INSERT INTO stripe_events (id, type, created, livemode, account, object_id)"
        " VALUES (:id, :t, to_timestamp(:c), :l, :a, :o) ON CONFLICT (id) DO NOTHING"
        " RETURNING id",
        id=event["id"],
        t=event["type"][:255],
        c=event["created"],
        l=bool(event.get("livemode")),
        a=id_of(event.get("account")),
        o=id_of(event["data"]["object"].get("id")),
    )
    return row is not None


def _finish(
    tx: Tx,
    event_id: str,
    outcome: Outcome,
    related: str | None,
    payload: dict[str, Any] | None,
    prefix: str = "",
) -> None:
    tx.exec(
        "UPDATE stripe_events SET status = :s, detail = :d, related = :r,"
        " payload = CAST(:p AS jsonb), processed_at = CASE WHEN :s = 'deferred' THEN NULL"
        " ELSE now() END WHERE id = :id",
        s=outcome.status.value,
        d=(prefix + outcome.detail)[:500],
        r=related,
        p=json.dumps(payload) if payload else None,
        id=event_id,
    )


def _replay_deferred(tx: Tx, keys: list[str | None]) -> None:
    """Apply deferred events that were waiting for this payment (now in the right tenant)."""
    keys = [k for k in keys if k]
    if not keys:
        return
    rows = tx.all(
        "SELECT id, payload FROM stripe_events WHERE status = 'deferred'"
        " AND related = ANY(CAST(:k AS text[])) ORDER BY created, id FOR UPDATE",
        k=keys,
    )
    for r in rows:
        event = r["payload"] if isinstance(r["payload"], dict) else json.loads(r["payload"])
        outcome = _apply(HANDLERS[event["type"]], tx, event)
        _finish(tx, r["id"], outcome, None, None, prefix="replayed: ")


def retry_deferred(*, limit: int = 200) -> int:
    """Re-resolve deferred events (reconcile cron); returns how many were applied."""
    with transaction() as tx:
        rows = tx.all(
            "SELECT id, payload FROM stripe_events WHERE status = 'deferred'"
            " ORDER BY created LIMIT :n",
            n=limit,
        )
    done = 0
    for r in rows:
        event = r["payload"] if isinstance(r["payload"], dict) else json.loads(r["payload"])
        handler = HANDLERS[event["type"]]
        with transaction() as tx:
            channel_id, _ = handler.resolve(tx, event["data"]["object"])
        if channel_id is None:
            continue
        with transaction(channel_id=channel_id) as tx:
            locked = tx.one(
                "SELECT id FROM stripe_events WHERE id = :id AND status = 'deferred' FOR UPDATE",
                id=r["id"],
            )
            if locked is None:
                continue
            outcome = _apply(handler, tx, event)
            _finish(tx, r["id"], outcome, None, None, prefix="replayed: ")
            done += 1
    return done


# -- helpers --------------------------------------------------------------------------------
def _channel_from_metadata(tx: Tx, *metadatas: Any) -> str | None:
    for meta in metadatas:
        c = meta.get("channel_id") if isinstance(meta, dict) else None
        if (
            isinstance(c, str)
            and is_uuid(c)
            and tx.scalar("SELECT 1 FROM channels WHERE id = :c", c=c)
        ):
            return c
    return None


def _channel_of(tx: Tx, *object_ids: str | None) -> str | None:
    for oid in object_ids:
        if oid:
            c = tx.scalar("SELECT billing_channel_of(:o)", o=oid)
            if c is not None:
                return str(c)
    return None


def _savepoint(tx: Tx, name: str, fn: Callable[[], Any]) -> tuple[Any, DomainError | None]:
    """Run fn; on a DomainError roll back just its writes and hand the error back."""
    tx.exec(f"SAVEPOINT {name}")
    try:
        result = fn()
    except DomainError as e:
        tx.exec(f"ROLLBACK TO SAVEPOINT {name}")
        return None, e
    tx.exec(f"RELEASE SAVEPOINT {name}")
    return result, None


# -- course payments ------------------------------------------------------------------------
def _resolve_checkout(tx: Tx, s: dict[str, Any]) -> tuple[str | None, str | None]:
    return _channel_from_metadata(tx, s.get("metadata")) or _channel_of(tx, s.get("id")), None


def _upsert_payment(
    tx: Tx,
    *,
    pi: str,
    charge_id: str | None = None,
    amount: int | None = None,
    currency: str | None = None,
    fee: int = 0,
    session: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The payment row for `pi`, created if needed, locked for the rest of the transaction."""
    s = session or {}
    row = tx.one(
        "INSERT INTO payments (id, channel_id, payment_intent_id, charge_id, checkout_session_id,"
        " user_id, course_id, batch_id, amount, currency, application_fee_amount)"
        " VALUES (:id, app_channel_id(), :pi, :ch, :cs, :u, :c, :b, :a, :cur, :fee)"
        " ON CONFLICT (channel_id, payment_intent_id) DO UPDATE SET"
        " charge_id = coalesce(payments.charge_id, EXCLUDED.charge_id),"
        " checkout_session_id = coalesce(payments.checkout_session_id,"
        "   EXCLUDED.checkout_session_id),"
        " user_id = coalesce(payments.user_id, EXCLUDED.user_id),"
        " course_id = coalesce(payments.course_id, EXCLUDED.course_id),"
        " batch_id = coalesce(payments.batch_id, EXCLUDED.batch_id),"
        " amount = coalesce(EXCLUDED.amount, payments.amount),"
        " currency = coalesce(EXCLUDED.currency, payments.currency),"
        " application_fee_amount = greatest(payments.application_fee_amount,"
        "   EXCLUDED.application_fee_amount),"
        " updated_at = now() RETURNING *",
        id=uuid7(),
        pi=pi,
        ch=charge_id,
        cs=s.get("id"),
        u=s.get("user_id"),
        c=s.get("course_id"),
        b=s.get("batch_id"),
        a=amount,
        cur=currency.lower() if currency else None,
        fee=fee,
    )
    assert row is not None
    return row


def _checkout_completed(tx: Tx, event: dict[str, Any], s: dict[str, Any]) -> Outcome:
    if s.get("mode") == "subscription":
        return _plan_checkout_completed(tx, event, s)
    if s.get("payment_status") != "paid":
        return ignored(f"payment_status={s.get('payment_status')}: waiting for the payment")
    row = tx.one(
        "SELECT * FROM checkout_sessions WHERE id = :id AND channel_id = app_channel_id()"
        " FOR UPDATE",
        id=s.get("id"),
    )
    if row is None or row["purpose"] != "course":
        return ignored("not a checkout session of this platform")
    when = event_time(event)
    amount = int_amount(s.get("amount_total"), "amount_total")
    currency = str(s.get("currency") or row["currency"]).lower()
    fee = int(row["application_fee_amount"] or 0)
    pi = id_of(s.get("payment_intent")) or f"cs:{s['id']}"
    pay = _upsert_payment(tx, pi=pi, amount=amount, currency=currency, fee=fee, session=row)
    if pay["paid_at"] is None:
        paid = tx.one(
            "UPDATE payments SET paid_at = :t WHERE id = :id RETURNING *", t=when, id=pay["id"]
        )
        assert paid is not None
        pay = paid
    common = {
        "currency": currency,
        "occurred_at": when,
        "payment_id": str(pay["id"]),
        "course_id": str(row["course_id"]),
        "stripe_object_id": pi,
        "stripe_event_id": event["id"],
    }
    ledger.add(tx, key=f"sale:{pi}", kind="sale", amount=amount, **common)
    if fee:
        ledger.add(tx, key=f"platform_fee:{pi}", kind="platform_fee", amount=-fee, **common)
    tx.exec(
        "UPDATE checkout_sessions SET status = 'complete', payment_intent_id = :pi,"
        " completed_at = coalesce(completed_at, :t) WHERE id = :id",
        pi=pi,
        t=when,
        id=row["id"],
    )
    if amount != row["amount"]:
        audit.record(
            tx,
            action="payment.amount_mismatch",
            channel_id=str(row["channel_id"]),
            actor_user_id=None,
            target_type="payment",
            target_id=str(pay["id"]),
            details={"expected": row["amount"], "paid": amount},
        )
    # Events that arrived before this one and waited for the payment (e.g. a lost dispute)
    # apply first, so fulfilment sees them.
    _replay_deferred(tx, [pi, pay["charge_id"]])
    locked = tx.one("SELECT * FROM payments WHERE id = :id FOR UPDATE", id=pay["id"])
    assert locked is not None
    return processed(_fulfil(tx, locked, event))


def _refuse(
    tx: Tx, pay: dict[str, Any], outcome: str, detail: str, details: dict[str, Any]
) -> None:
    """Record why a paid checkout gets no enrollment (`withheld` or `failed`), and audit it."""
    tx.exec(
        "UPDATE payments SET fulfillment = :o, fulfillment_detail = :d WHERE id = :id",
        o=outcome,
        d=detail,
        id=pay["id"],
    )
    audit.record(
        tx,
        action=f"payment.fulfillment_{outcome}",
        channel_id=str(pay["channel_id"]),
        actor_user_id=None,
        target_type="payment",
        target_id=str(pay["id"]),
        details=details,
    )


def _fulfil(tx: Tx, pay: dict[str, Any], event: dict[str, Any]) -> str:
    """Create the paid enrollment once per payment (unless refunded/lost first)."""
    if pay["fulfillment"] != "pending":
        return f"already {pay['fulfillment']}"
    channel_id = str(pay["channel_id"])
    if pay["refunded"] or pay["dispute_lost"]:
        why = "refunded" if pay["refunded"] else "dispute lost"
        _refuse(
            tx,
            pay,
            "withheld",
            f"{why} before the checkout completed",
            {"reason": why, "event_id": event["id"]},
        )
        return f"withheld: {why}"
    enrollment, err = _savepoint(
        tx,
        "fulfil",
        lambda: create_enrollment(
            tx,
            course_id=str(pay["course_id"]),
            user_id=str(pay["user_id"]),
            batch_id=str(pay["batch_id"]) if pay["batch_id"] else None,
            source="paid",
        ),
    )
    if err is not None:
        _refuse(tx, pay, "failed", err.detail[:500], {"reason": err.detail, "status": err.status})
        return f"not fulfilled: {err.detail}"
    tx.exec(
        "UPDATE payments SET fulfillment = 'enrolled', enrollment_id = :e WHERE id = :id",
        e=enrollment["id"],
        id=pay["id"],
    )
    outbox.add(
        tx,
        channel_id=channel_id,
        event_type="payment.completed",
        payload={
            "payment_id": str(pay["id"]),
            "enrollment_id": str(enrollment["id"]),
            "course_id": str(pay["course_id"]),
            "user_id": str(pay["user_id"]),
            "amount": pay["amount"],
            "currency": pay["currency"],
        },
    )
    return "enrolled"


def _resolve_charge(tx: Tx, ch: dict[str, Any]) -> tuple[str | None, str | None]:
    pi = id_of(ch.get("payment_intent"))
    channel = _channel_from_metadata(tx, ch.get("metadata")) or _channel_of(tx, pi, ch.get("id"))
    return channel, pi or id_of(ch.get("id"))


def _charge_refunded(tx: Tx, event: dict[str, Any], ch: dict[str, Any]) -> Outcome:
    charge_id = id_of(ch.get("id"))
    if charge_id is None:
        return ignored("charge without id")
    amount = int_amount(ch.get("amount"), "amount")
    total = int_amount(ch.get("amount_refunded", 0), "amount_refunded")
    pi = id_of(ch.get("payment_intent")) or charge_id
    fee = ch.get("application_fee_amount")
    pay = _upsert_payment(
        tx,
        pi=pi,
        charge_id=charge_id,
        amount=amount,
        currency=ch.get("currency"),
        fee=fee if isinstance(fee, int) and not isinstance(fee, bool) else 0,
    )
    full = bool(ch.get("refunded")) or total >= amount
    if total > pay["amount_refunded"]:
        ledger.add(
            tx,
            key=f"refund:{charge_id}:{total}",
            kind="refund",
            amount=-(total - int(pay["amount_refunded"])),
            currency=str(ch.get("currency") or pay["currency"]),
            occurred_at=event_time(event),
            payment_id=str(pay["id"]),
            course_id=str(pay["course_id"]) if pay["course_id"] else None,
            stripe_object_id=charge_id,
            stripe_event_id=event["id"],
        )
    tx.exec(
        "UPDATE payments SET amount_refunded = greatest(amount_refunded, :t),"
        " refunded = refunded OR :f, updated_at = now() WHERE id = :id",
        t=total,
        f=full,
        id=pay["id"],
    )
    ended = False
    if full and pay["enrollment_id"] is not None:
        ended = end_enrollment(tx, enrollment_id=str(pay["enrollment_id"]), reason="refunded")
    if total > pay["amount_refunded"] or ended:
        audit.record(
            tx,
            action="payment.refunded",
            channel_id=str(pay["channel_id"]),
            actor_user_id=None,
            target_type="payment",
            target_id=str(pay["id"]),
            details={
                "amount_refunded": total,
                "full": full,
                "enrollment_ended": ended,
                "charge": charge_id,
            },
        )
    return processed(
        ("full refund" if full else "partial refund") + (", enrollment ended" if ended else "")
    )


# -- disputes -------------------------------------------------------------------------------
def _resolve_dispute(tx: Tx, d: dict[str, Any]) -> tuple[str | None, str | None]:
    pi, ch = id_of(d.get("payment_intent")), id_of(d.get("charge"))
    return _channel_of(tx, pi, ch), pi or ch


def _dispute(tx: Tx, event: dict[str, Any], d: dict[str, Any]) -> Outcome:
    facts = read_dispute(event, d)
    if facts is None:
        return ignored("dispute without id")
    pay = tx.one(
        "SELECT * FROM payments WHERE channel_id = app_channel_id() AND"
        " (payment_intent_id = :pi OR charge_id = :ch) ORDER BY created_at LIMIT 1"
        " FOR UPDATE",
        pi=facts.payment_intent or "",
        ch=facts.charge or "",
    )
    row, opened_now, newly_closed = _store_dispute(tx, facts, pay["id"] if pay else None)
    effects = dispute_effects(
        dispute_id=facts.dispute_id,
        status=str(row["status"]),
        outcome=row["outcome"],
        amount=int(row["amount"]),
        opened_now=opened_now,
        newly_closed=newly_closed,
    )
    common = {
        "currency": facts.currency,
        "occurred_at": event_time(event),
        "payment_id": str(pay["id"]) if pay else None,
        "course_id": str(pay["course_id"]) if pay and pay["course_id"] else None,
        "stripe_object_id": facts.dispute_id,
        "stripe_event_id": event["id"],
    }
    for move in effects.ledger:
        ledger.add(tx, key=move.key, kind=move.kind, amount=move.amount, **common)
    ended = False
    if effects.lost and pay is not None:
        tx.exec(
            "UPDATE payments SET dispute_lost = true, updated_at = now() WHERE id = :id",
            id=pay["id"],
        )
        if pay["enrollment_id"] is not None:
            ended = end_enrollment(
                tx, enrollment_id=str(pay["enrollment_id"]), reason="dispute_lost"
            )
    if effects.audit_action is not None:
        _record_dispute(
            tx, row, facts.currency, effects.audit_action, effects.publish_opened, ended
        )
    return processed(dispute_detail(str(row["status"]), ended))


def _store_dispute(tx: Tx, f: DisputeFacts, payment_id: Any) -> tuple[dict[str, Any], bool, bool]:
    """Insert or advance the dispute row: (row, opened now, closed now)."""
    row = tx.one(
        "INSERT INTO disputes (id, channel_id, stripe_dispute_id, payment_id, charge_id,"
        " payment_intent_id, amount, currency, reason, status, outcome, evidence_due_by,"
        " state_version, opened_at, closed_at) VALUES (:id, app_channel_id(), :sd, :p, :ch,"
        " :pi, :a, :cur, :r, :s, :o, :due, :v, :op, :cl)"
        " ON CONFLICT (channel_id, stripe_dispute_id) DO NOTHING RETURNING *",
        id=uuid7(),
        sd=f.dispute_id,
        p=payment_id,
        ch=f.charge,
        pi=f.payment_intent,
        a=f.amount,
        cur=f.currency,
        r=f.reason,
        s=f.status,
        o=f.outcome,
        due=f.evidence_due_by,
        v=f.version,
        op=f.opened_at,
        cl=f.closed_at,
    )
    if row is not None:
        return row, True, f.outcome is not None
    cur = tx.one(
        "SELECT * FROM disputes WHERE channel_id = app_channel_id()"
        " AND stripe_dispute_id = :sd FOR UPDATE",
        sd=f.dispute_id,
    )
    assert cur is not None
    if not dispute_update_applies(
        stored_outcome=cur["outcome"], stored_version=cur["state_version"], version=f.version
    ):
        return cur, False, False
    row = tx.one(
        "UPDATE disputes SET status = :s, outcome = :o, reason = coalesce(:r, reason),"
        " evidence_due_by = coalesce(:due, evidence_due_by), amount = :a,"
        " state_version = :v, closed_at = :cl, payment_id = coalesce(payment_id, :p),"
        " updated_at = now() WHERE id = :id RETURNING *",
        s=f.status,
        o=f.outcome,
        r=f.reason,
        due=f.evidence_due_by,
        a=f.amount,
        v=f.version,
        cl=f.closed_at,
        p=payment_id,
        id=cur["id"],
    )
    assert row is not None
    return row, False, f.outcome is not None


def _record_dispute(
    tx: Tx,
    row: dict[str, Any],
    currency: str,
    action: str,
    publish_opened: bool,
    ended: bool,
) -> None:
    """The dispute's audit row, with the `dispute.opened` event when it just opened."""
    channel_id = str(row["channel_id"])
    details = {
        "stripe_dispute_id": row["stripe_dispute_id"],
        "status": row["status"],
        "amount": int(row["amount"]),
        "currency": currency,
        "reason": row["reason"],
        "enrollment_ended": ended,
    }
    payload = {"dispute_id": str(row["id"]), "amount": int(row["amount"]), "currency": currency}
    if publish_opened and action == "dispute.opened":
        audit.record_change(
            tx,
            channel_id=channel_id,
            actor_user_id=None,
            action=action,
            target_type="dispute",
            target_id=str(row["id"]),
            payload=payload,
            details=details,
        )
        return
    # A dispute first seen already closed: audited as closed, still announced as opened.
    audit.record(
        tx,
        action=action,
        channel_id=channel_id,
        actor_user_id=None,
        target_type="dispute",
        target_id=str(row["id"]),
        details=details,
    )
    if publish_opened:
        outbox.add(tx, channel_id=channel_id, event_type="dispute.opened", payload=payload)


# -- Connect accounts -----------------------------------------------------------------------
def _resolve_account(tx: Tx, a: dict[str, Any]) -> tuple[str | None, str | None]:
    c = tx.scalar(
        "SELECT id FROM channels WHERE stripe_account_id = :a", a=id_of(a.get("id")) or ""
    )
    return (str(c) if c else _channel_from_metadata(tx, a.get("metadata"))), None


def _account_updated(tx: Tx, event: dict[str, Any], a: dict[str, Any]) -> Outcome:
    acct = id_of(a.get("id"))
    ch = tx.one(
        "SELECT stripe_account_id, charges_enabled, payouts_enabled FROM channels"
        " WHERE id = app_channel_id() FOR NO KEY UPDATE"
    )
    if acct is None or ch is None or ch["stripe_account_id"] not in (None, acct):
        return ignored("account does not belong to this channel")
    due = (a.get("requirements") or {}).get("currently_due") or []
    charges, payouts = bool(a.get("charges_enabled")), bool(a.get("payouts_enabled"))
    row = tx.one(
        "INSERT INTO payout_accounts (channel_id, stripe_account_id, charges_enabled,"
        " payouts_enabled, details_submitted, requirements_due, state_version)"
        " VALUES (app_channel_id(), :a, :c, :p, :d, CAST(:r AS jsonb), :v)"
        " ON CONFLICT (channel_id) DO UPDATE SET stripe_account_id = EXCLUDED.stripe_account_id,"
        " charges_enabled = EXCLUDED.charges_enabled, payouts_enabled = EXCLUDED.payouts_enabled,"
        " details_submitted = EXCLUDED.details_submitted,"
        " requirements_due = EXCLUDED.requirements_due, state_version = EXCLUDED.state_version,"
        " updated_at = now() WHERE payout_accounts.state_version <= EXCLUDED.state_version"
        " RETURNING channel_id",
        a=acct,
        c=charges,
        p=payouts,
        d=bool(a.get("details_submitted")),
        r=json.dumps([str(x) for x in due][:100]),
        v=int(event["created"]),
    )
    if row is None:
        return ignored("stale: older than the account state we hold")
    tx.exec(
        "UPDATE channels SET stripe_account_id = :a, charges_enabled = :c,"
        " payouts_enabled = :p, updated_at = now() WHERE id = app_channel_id()",
        a=acct,
        c=charges,
        p=payouts,
    )
    if (charges, payouts) != (ch["charges_enabled"], ch["payouts_enabled"]):
        audit.record(
            tx,
            action="payouts.account_updated",
            channel_id=str(row["channel_id"]),
            actor_user_id=None,
            target_type="stripe_account",
            target_id=acct,
            details={"charges_enabled": charges, "payouts_enabled": payouts},
        )
    return processed(f"charges_enabled={charges} payouts_enabled={payouts}")


# -- plan subscriptions -------------------------------------------------------------------
def _lock_subscription(tx: Tx) -> dict[str, Any]:
    tx.exec(
        "INSERT INTO channel_subscriptions (channel_id) VALUES (app_channel_id())"
        " ON CONFLICT (channel_id) DO NOTHING"
    )
    row = tx.one(
        "SELECT * FROM channel_subscriptions WHERE channel_id = app_channel_id() FOR UPDATE"
    )
    assert row is not None
    return row


def _apply_plan_state(
    tx: Tx,
    event: dict[str, Any],
    *,
    sub_id: str | None,
    customer: str | None,
    plan: str,
    status: str,
    ends: datetime | None = None,
    cancel_at_period_end: bool | None = None,
) -> str:
    """Store the subscription state and project it onto channels.plan/plan_status."""
    before = tx.one(
        "SELECT plan, plan_status FROM channels WHERE id = app_channel_id() FOR NO KEY UPDATE"
    )
    assert before is not None
    new_plan, new_status = projected_plan(
        status=status, plan=plan, before=(before["plan"], before["plan_status"])
    )
    tx.exec(
        "UPDATE channel_subscriptions SET stripe_subscription_id = coalesce(:s,"
        " stripe_subscription_id), stripe_customer_id = coalesce(stripe_customer_id, :cu),"
        " plan = :p, status = :st, current_period_end = coalesce(:pe, current_period_end),"
        " cancel_at_period_end = coalesce(:cap, cancel_at_period_end),"
        " grace_since = CASE WHEN :g THEN coalesce(grace_since, :t) ELSE NULL END,"
        " state_version = greatest(state_version, :v), state_event_id = :e, updated_at = now()"
        " WHERE channel_id = app_channel_id()",
        s=sub_id,
        cu=customer,
        p=new_plan if status in ENDED else plan,
        st=status,
        pe=ends,
        cap=cancel_at_period_end,
        g=new_status == "grace",
        t=event_time(event),
        v=int(event["created"]),
        e=event["id"],
    )
    if (new_plan, new_status) == (before["plan"], before["plan_status"]):
        return f"plan {new_plan} {new_status} (unchanged)"
    tx.exec(
        "UPDATE channels SET plan = :p, plan_status = :s, updated_at = now()"
        " WHERE id = app_channel_id()",
        p=new_plan,
        s=new_status,
    )
    channel_id = tx.scalar("SELECT app_channel_id()")
    details = {
        "from": {"plan": before["plan"], "status": before["plan_status"]},
        "to": {"plan": new_plan, "status": new_status},
        "subscription_status": status,
        "event_id": event["id"],
    }
    # The audit action and the event type differ (plan.changed / channel.plan_changed), which
    # record_change (event type = action) cannot express without renaming a published event.
    audit.record(
        tx,
        action="plan.changed",
        channel_id=str(channel_id),
        actor_user_id=None,
        target_type="channel",
        target_id=str(channel_id),
        details=details,
    )
    outbox.add(tx, channel_id=str(channel_id), event_type="channel.plan_changed", payload=details)
    return f"plan {new_plan} {new_status}"


def _plan_checkout_completed(tx: Tx, event: dict[str, Any], s: dict[str, Any]) -> Outcome:
    row = tx.one(
        "SELECT * FROM checkout_sessions WHERE id = :id AND channel_id = app_channel_id()"
        " FOR UPDATE",
        id=s.get("id"),
    )
    if row is None or row["purpose"] != "plan":
        return ignored("not a plan checkout of this platform")
    tx.exec(
        "UPDATE checkout_sessions SET status = 'complete', completed_at = coalesce("
        "completed_at, :t) WHERE id = :id",
        t=event_time(event),
        id=row["id"],
    )
    if s.get("payment_status") not in ("paid", "no_payment_required"):
        return ignored("waiting for the first payment")
    sub_id = id_of(s.get("subscription"))
    cur = _lock_subscription(tx)
    if int(event["created"]) < cur["state_version"] and cur["stripe_subscription_id"] == sub_id:
        return ignored("stale: the subscription state is newer")
    if cur["stripe_subscription_id"] == sub_id and cur["status"] in ENDED:
        return ignored("subscription already canceled")
    return processed(
        _apply_plan_state(
            tx,
            event,
            sub_id=sub_id,
            customer=id_of(s.get("customer")),
            plan=row["plan"],
            status="active",
        )
    )


def _resolve_subscription(tx: Tx, sub: dict[str, Any]) -> tuple[str | None, str | None]:
    return (
        _channel_from_metadata(tx, sub.get("metadata"))
        or _channel_of(tx, id_of(sub.get("id")), id_of(sub.get("customer")))
    ), None


def _subscription_changed(tx: Tx, event: dict[str, Any], sub: dict[str, Any]) -> Outcome:
    sub_id = id_of(sub.get("id"))
    deleted = event["type"] == "customer.subscription.deleted"
    status = "canceled" if deleted else str(sub.get("status") or "")
    ver = int(event["created"])
    cur = _lock_subscription(tx)
    if cur["stripe_subscription_id"] not in (None, sub_id):
        if status in ENDED or ver < cur["state_version"]:
            return ignored("about a replaced subscription")
    elif ver < cur["state_version"]:
        return ignored("stale: older than the subscription state we hold")
    if cur["stripe_subscription_id"] == sub_id and cur["status"] in ENDED:
        return ignored("subscription already canceled")
    plan = subscription_plan(sub, cur["plan"])
    return processed(
        _apply_plan_state(
            tx,
            event,
            sub_id=sub_id,
            customer=id_of(sub.get("customer")),
            plan=plan,
            status=status,
            ends=period_end(sub),
            cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
        )
    )


def _resolve_invoice(tx: Tx, inv: dict[str, Any]) -> tuple[str | None, str | None]:
    sub, meta = invoice_subscription(inv)
    return (
        _channel_from_metadata(tx, meta) or _channel_of(tx, sub, id_of(inv.get("customer")))
    ), None


def _invoice(tx: Tx, event: dict[str, Any], inv: dict[str, Any]) -> Outcome:
    sub_id, meta = invoice_subscription(inv)
    if sub_id is None:
        return ignored("not a subscription invoice")
    paid = event["type"] == "invoice.paid"
    amount_paid = int_amount(inv.get("amount_paid", 0), "amount_paid")
    if paid and amount_paid > 0:
        ledger.add(
            tx,
            key=f"plan_invoice:{inv['id']}",
            kind="plan_invoice",
            amount=-amount_paid,
            currency=str(inv.get("currency") or "usd"),
            occurred_at=event_time(event),
            stripe_object_id=id_of(inv.get("id")),
            stripe_event_id=event["id"],
        )
    if is_plan_change_invoice(inv):
        return processed("ledger only: plan change invoice (the subscription event applies it)")
    cur = _lock_subscription(tx)
    if cur["stripe_subscription_id"] not in (None, sub_id):
        return processed("ledger only: invoice of a replaced subscription")
    if int(event["created"]) < cur["state_version"]:
        return processed("ledger only: older than the subscription state")
    if cur["status"] in ENDED and cur["stripe_subscription_id"] == sub_id:
        return processed("ledger only: subscription canceled")
    plan = plan_key(meta) or cur["plan"]
    if not paid:
        audit.record(
            tx,
            action="plan.payment_failed",
            channel_id=str(cur["channel_id"]),
            actor_user_id=None,
            target_type="invoice",
            target_id=id_of(inv.get("id")),
            details={
                "amount_due": inv.get("amount_due"),
                "attempt_count": inv.get("attempt_count"),
            },
        )
    return processed(
        _apply_plan_state(
            tx,
            event,
            sub_id=sub_id,
            customer=id_of(inv.get("customer")),
            plan=plan,
            status="active" if paid else "past_due",
        )
    )


def _checkout_expired(tx: Tx, event: dict[str, Any], s: dict[str, Any]) -> Outcome:
    n = tx.exec(
        "UPDATE checkout_sessions SET status = 'expired' WHERE id = :id"
        " AND channel_id = app_channel_id() AND status = 'open'",
        id=s.get("id"),
    )
    return processed("expired") if n else ignored("not an open checkout session")


_CHECKOUT = Handler(_resolve_checkout, _checkout_completed)
_DISPUTE = Handler(_resolve_dispute, _dispute)
_SUBSCRIPTION = Handler(_resolve_subscription, _subscription_changed)
_INVOICE = Handler(_resolve_invoice, _invoice)
HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": _CHECKOUT,
    "checkout.session.async_payment_succeeded": _CHECKOUT,
    "checkout.session.expired": Handler(_resolve_checkout, _checkout_expired),
    "charge.refunded": Handler(_resolve_charge, _charge_refunded),
    "charge.dispute.created": _DISPUTE,
    "charge.dispute.updated": _DISPUTE,
    "charge.dispute.closed": _DISPUTE,
    "account.updated": Handler(_resolve_account, _account_updated),
    "customer.subscription.created": _SUBSCRIPTION,
    "customer.subscription.updated": _SUBSCRIPTION,
    "customer.subscription.deleted": _SUBSCRIPTION,
    # Pending updates (plan changes wait for their invoice): applied once paid, or expired.
    "customer.subscription.pending_update_applied": _SUBSCRIPTION,
    "customer.subscription.pending_update_expired": _SUBSCRIPTION,
    "invoice.paid": _INVOICE,
    "invoice.payment_failed": _INVOICE,
}
