"""HTTP route family: payouts onboarding, course checkout, channel plans, disputes queue."""

import functions_framework

from shared import billing
from shared.billing.schemas import (
    ChannelPlan,
    ChannelPlanOut,
    Checkout,
    CheckoutIn,
    CheckoutOut,
    Dispute,
    DisputeList,
    DisputeOut,
    DisputePage,
    DisputeQuery,
    Onboarding,
    OnboardingIn,
    OnboardingOut,
    PayoutAccount,
    PayoutAccountOut,
    PlanChange,
    PlanChangeIn,
    PlanChangeOut,
    PlanList,
    PlanPage,
)
from shared.web import Api, Ctx

api = Api("billing", tag="Payments")
C = "/v1/channels/{channel_id}"
HIDDEN = {404: "No such channel (or not a member)"}
DENIED = {403: "Your role cannot do this", **HIDDEN}
STRIPE = {502: "Stripe could not be reached"}
# A refusal no schema can express (issue 17): it depends on the channel's settings.
REDIRECTS = (
    "Validation failed, or a redirect URL outside the platform's origin and the channel's"
    " `redirect_origins`"
)


@api.route(
    "POST",
    f"{C}/payouts/onboarding",
    body=OnboardingIn,
    response=OnboardingOut,
    summary="Stripe Connect onboarding link for the channel owner",
    errors={**DENIED, 422: REDIRECTS, **STRIPE},
)
def onboarding(ctx: Ctx) -> Onboarding:
    return billing.start_onboarding(
        channel_id=ctx.params["channel_id"], user_id=ctx.require_user(), body=ctx.body
    )


@api.route(
    "GET",
    f"{C}/payouts/account",
    response=PayoutAccountOut,
    summary="Payout account readiness (owner/admin)",
    errors=DENIED,
)
def payout_account(ctx: Ctx) -> PayoutAccount:
    return billing.payout_account(channel_id=ctx.params["channel_id"], user_id=ctx.require_user())


@api.route(
    "POST",
    f"{C}/courses/{{course_id}}/checkout",
    body=CheckoutIn,
    status=201,
    response=CheckoutOut,
    idempotent=True,
    summary="Start a Stripe Checkout for a course",
    errors={
        404: "No such published course (or batch)",
        409: "Free course, already enrolled, batch full, or channel not payable",
        422: REDIRECTS,
        **STRIPE,
    },
)
def checkout(ctx: Ctx) -> Checkout:
    return billing.create_course_checkout(
        channel_id=ctx.params["channel_id"],
        course_id=ctx.params["course_id"],
        user_id=ctx.require_user(),
        body=ctx.body,
    )


@api.route("GET", "/v1/plans", response=PlanList, auth="optional", summary="Platform plans")
def plans(ctx: Ctx) -> PlanPage:
    return billing.list_plans()


@api.route("GET", f"{C}/plan", response=ChannelPlanOut, summary="The channel's plan", errors=DENIED)
def get_plan(ctx: Ctx) -> ChannelPlan:
    return billing.get_channel_plan(channel_id=ctx.params["channel_id"], user_id=ctx.require_user())


@api.route(
    "POST",
    f"{C}/plan",
    body=PlanChangeIn,
    response=PlanChangeOut,
    summary="Subscribe to, change or cancel the channel's plan (owner/admin)",
    errors={**DENIED, 422: REDIRECTS + "; success_url/cancel_url needed to subscribe", **STRIPE},
)
def change_plan(ctx: Ctx) -> PlanChange:
    return billing.change_plan(
        channel_id=ctx.params["channel_id"], user_id=ctx.require_user(), body=ctx.body
    )


@api.route(
    "GET",
    f"{C}/disputes",
    query=DisputeQuery,
    response=DisputeList,
    summary="Disputes queue (owner/admin)",
    errors=DENIED,
)
def disputes(ctx: Ctx) -> DisputePage:
    return billing.list_disputes(
        channel_id=ctx.params["channel_id"], user_id=ctx.require_user(), query=ctx.query
    )


@api.route(
    "GET",
    f"{C}/disputes/{{dispute_id}}",
    response=DisputeOut,
    summary="One dispute (owner/admin)",
    errors=DENIED,
)
def dispute(ctx: Ctx) -> Dispute:
    return billing.get_dispute(
        channel_id=ctx.params["channel_id"],
        user_id=ctx.require_user(),
        dispute_id=ctx.params["dispute_id"],
    )


handle_billing = functions_framework.http(api)
