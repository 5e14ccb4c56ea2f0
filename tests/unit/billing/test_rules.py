"""The pure payment transitions: course checkout terms, plan changes, disputes, plan state."""

from datetime import UTC, datetime

from shared.billing import rules
from shared.billing.rules import (
    PLANS,
    CheckoutFacts,
    CheckoutRefusal,
    CheckoutTerms,
    LedgerMove,
    PlanAction,
)

COURSE = {"id": "c1", "title": "T", "price_amount": 4900, "price_currency": "usd"}


def facts(**kw) -> CheckoutFacts:
    base = {
        "course": COURSE,
        "charges_enabled": True,
        "stripe_account_id": "acct_1",
        "batch_requested": False,
        "batch": None,
        "already_enrolled": False,
    }
    return CheckoutFacts(**{**base, **kw})


def test_checkout_terms_carry_amount_currency_and_the_plans_fee():
    assert rules.checkout_terms(facts(), PLANS["free"]) == CheckoutTerms(4900, "usd", 520)
    yen = {**COURSE, "price_amount": 5000, "price_currency": "jpy"}
    assert rules.checkout_terms(facts(course=yen), PLANS["pro"]) == CheckoutTerms(5000, "jpy", 300)


def test_checkout_refusals_in_order():
    free = PLANS["free"]
    cases = [
        (facts(course=None), 404, "No such course"),
        (facts(course={**COURSE, "price_amount": None}), 409, "free"),
        (facts(charges_enabled=False), 409, "cannot take payments"),
        (facts(stripe_account_id=None), 409, "cannot take payments"),
        (facts(batch_requested=True), 404, "batch"),
        (facts(batch_requested=True, batch={"capacity": 2, "seats_taken": 2}), 409, "full"),
        (facts(already_enrolled=True), 409, "Already enrolled"),
        (facts(course={**COURSE, "price_currency": "inr"}), 422, "INR"),
    ]
    for f, status, words in cases:
        out = rules.checkout_terms(f, free)
        assert isinstance(out, CheckoutRefusal) and out.status == status, (f, out)
        assert words in out.detail
    roomy = facts(batch_requested=True, batch={"capacity": None, "seats_taken": 99})
    assert isinstance(rules.checkout_terms(roomy, free), CheckoutTerms)


def test_checkout_metadata_names_the_batch_only_when_there_is_one():
    base = {"channel_id": "ch", "course_id": "co", "user_id": "u"}
    assert rules.checkout_metadata(**base, batch_id=None) == base
    assert rules.checkout_metadata(**base, batch_id="b")["batch_id"] == "b"


def test_plan_change_action():
    act = rules.plan_change_action
    assert act(current="free", target="pro", live_subscription=False) is PlanAction.CHECKOUT
    assert act(current="pro", target="pro", live_subscription=False) is PlanAction.CHECKOUT
    assert act(current="pro", target="business", live_subscription=True) is PlanAction.UPDATING
    assert act(current="pro", target="pro", live_subscription=True) is PlanAction.UNCHANGED
    assert act(current="pro", target="free", live_subscription=True) is PlanAction.CANCELING
    assert act(current="free", target="free", live_subscription=False) is PlanAction.UNCHANGED
    assert act(current="free", target="free", live_subscription=True) is PlanAction.UNCHANGED


def test_projected_plan_follows_the_subscription_status():
    before = ("pro", "active")
    assert rules.projected_plan(status="active", plan="business", before=before) == (
        "business",
        "active",
    )
    assert rules.projected_plan(status="past_due", plan="pro", before=before) == ("pro", "grace")
    assert rules.projected_plan(status="canceled", plan="pro", before=before) == ("free", "active")
    assert rules.projected_plan(status="incomplete", plan="business", before=before) == before


def test_a_pending_update_grants_nothing_until_stripe_applies_it():
    sub = {"metadata": {"plan": "business"}, "pending_update": None}
    assert rules.subscription_plan(sub, "pro") == "business"
    pending = {
        "metadata": {"plan": "business"},
        "pending_update": {"expires_at": 1, "subscription_items": [{"price": "x"}]},
    }
    assert rules.subscription_plan(pending, "pro") == "pro"
    assert rules.subscription_plan({"metadata": {}}, "pro") == "pro"
    assert rules.is_plan_change_invoice({"billing_reason": "subscription_update"})
    assert not rules.is_plan_change_invoice({"billing_reason": "subscription_cycle"})


def _event(created: int = 1_800_000_000) -> dict:
    return {"id": "evt_1", "created": created}


def test_read_dispute():
    d = {
        "id": "dp_1",
        "payment_intent": {"id": "pi_1"},
        "charge": "ch_1",
        "amount": 4900,
        "currency": "USD",
        "status": "lost",
        "reason": "fraudulent",
        "evidence_details": {"due_by": 1_800_000_100},
        "created": 1_700_000_000,
    }
    f = rules.read_dispute(_event(), d)
    assert f is not None
    assert (f.dispute_id, f.payment_intent, f.charge, f.currency) == ("dp_1", "pi_1", "ch_1", "usd")
    assert f.outcome == "lost" and f.closed_at == datetime.fromtimestamp(1_800_000_000, UTC)
    assert f.opened_at.year == 2023 and f.evidence_due_by is not None
    assert f.version == 1_800_000_000
    opened = rules.read_dispute(_event(), {"id": "dp_2", "amount": 10})
    assert opened is not None and opened.status == "needs_response" and opened.outcome is None
    assert opened.closed_at is None
    assert opened.opened_at == datetime.fromtimestamp(1_800_000_000, UTC)  # no `created`: event's
    assert rules.read_dispute(_event(), {"amount": 10}) is None


def test_dispute_updates_never_reopen_or_roll_back():
    applies = rules.dispute_update_applies
    assert applies(stored_outcome=None, stored_version=10, version=10)
    assert applies(stored_outcome=None, stored_version=10, version=11)
    assert not applies(stored_outcome=None, stored_version=10, version=9)
    assert not applies(stored_outcome="lost", stored_version=10, version=99)


def test_dispute_effects():
    eff = rules.dispute_effects
    opened = eff(
        dispute_id="d",
        status="needs_response",
        outcome=None,
        amount=500,
        opened_now=True,
        newly_closed=False,
    )
    assert opened.ledger == [LedgerMove("dispute:d", "dispute", -500)]
    assert opened.audit_action == "dispute.opened" and opened.publish_opened and not opened.lost
    won = eff(
        dispute_id="d", status="won", outcome="won", amount=500, opened_now=False, newly_closed=True
    )
    assert won.ledger == [
        LedgerMove("dispute:d", "dispute", -500),
        LedgerMove("dispute_won:d", "dispute_won", 500),
    ]
    assert won.audit_action == "dispute.closed" and not won.publish_opened
    lost = eff(
        dispute_id="d", status="lost", outcome="lost", amount=5, opened_now=False, newly_closed=True
    )
    assert lost.lost
    inquiry = eff(
        dispute_id="d",
        status="warning_closed",
        outcome="inquiry_closed",
        amount=5,
        opened_now=True,
        newly_closed=True,
    )
    assert inquiry.ledger == [] and inquiry.audit_action == "dispute.closed"
    assert inquiry.publish_opened  # first seen closed: still announced as opened
    quiet = eff(
        dispute_id="d",
        status="under_review",
        outcome=None,
        amount=5,
        opened_now=False,
        newly_closed=False,
    )
    assert quiet.audit_action is None and not quiet.publish_opened
    assert rules.dispute_detail("lost", True) == "dispute lost, enrollment ended"


def test_origins_are_normalised():
    assert rules.origin_of("https://Shop.Example/ok?x=1") == "https://shop.example"
    assert rules.origin_of("https://shop.example:443/ok") == "https://shop.example"
    assert rules.origin_of("http://127.0.0.1:8080/ch/x") == "http://127.0.0.1:8080"
    assert rules.origin_of("https://shop.example:8443/") == "https://shop.example:8443"
    for bad in ("javascript:alert(1)", "/relative", "https://", "ftp://x.example/", "http://[::"):
        assert rules.origin_of(bad) is None


def test_channel_redirect_origins_are_https_only_wherever_the_setting_lives():
    listed = ["https://Shop.example/", "http://plain.example", "nope", 3]
    assert rules.channel_redirect_origins({"redirect_origins": listed}) == {"https://shop.example"}
    assert rules.channel_redirect_origins({"settings": {"redirect_origins": listed}}) == {
        "https://shop.example"
    }
    assert rules.channel_redirect_origins({"theme": {}}) == set()
    assert rules.channel_redirect_origins({"redirect_origins": "https://a.example"}) == set()


def test_redirects_off_the_allowed_origins_are_named():
    allowed = {"https://platform.example", "https://shop.example"}
    urls = {
        "success_url": "https://shop.example/paid",
        "cancel_url": "https://evil.example/phish",
        "return_url": None,
    }
    assert rules.disallowed_redirects(urls, allowed) == ["cancel_url"]
    # a look-alike host or a userinfo trick is another origin
    tricks = {
        "a": "https://shop.example.evil.example/",
        "b": "https://shop.example@evil.example/",
        "c": "http://shop.example/",  # http is not the listed https origin
    }
    assert rules.disallowed_redirects(tricks, allowed) == ["a", "b", "c"]
