"""Request and response bodies of the payment routes (billing, stripe_webhook)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal, NotRequired, TypedDict

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    HttpUrl,
    PlainSerializer,
    StrictInt,
)

from shared.billing.rules import MoneyInfo, PlanInfo
from shared.platform.models import Model, Out

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def _as_str(url: HttpUrl) -> str:
    return str(url)


# URLs are measured as sent (JSON Schema's maxLength): at most 2047 characters, which leaves
# room for the `/` that normalising a bare origin adds (stored URLs stay within 2048).
URL_MAX = 2047


def _url_as_sent(value: object) -> object:
    if isinstance(value, str) and len(value) > URL_MAX:
        raise ValueError(f"URL must be at most {URL_MAX} characters")
    return value


# Validated as a URL, kept as the str Stripe takes; serialized as that str (without the
# serializer pydantic warns, on every dump, that a str sits where a HttpUrl was declared).
# Type checkers see the str it is once validated.
if TYPE_CHECKING:
    RedirectUrl = str
else:
    RedirectUrl = Annotated[
        HttpUrl,
        BeforeValidator(_url_as_sent),
        Field(max_length=2048, json_schema_extra={"maxLength": URL_MAX}),
        AfterValidator(_as_str),
        PlainSerializer(str, return_type=str),
    ]


class Money(Out):
    amount: StrictInt = Field(description="Integer minor units (cents)")
    currency: str = Field(pattern=r"^[a-z]{3}$")


class OnboardingIn(Model):
    """Optional: where Stripe sends the owner back (defaults to the channel's page)."""

    return_url: RedirectUrl | None = None
    refresh_url: RedirectUrl | None = None


class OnboardingOut(Out):
    url: str = Field(description="Stripe Connect onboarding link (single use, short-lived)")
    expires_at: datetime | None = None


class PayoutAccountOut(Out):
    stripe_account_id: str | None
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    requirements_due: list[str]


class CheckoutIn(Model):
    batch_id: str | None = Field(default=None, pattern=UUID_PATTERN)
    success_url: RedirectUrl
    cancel_url: RedirectUrl


class CheckoutOut(Out):
    checkout_url: str
    session_id: str


class PlanLimits(Out):
    max_published_courses: int | None
    recording_retention_days: int


class PlatformFee(Out):
    percent_bps: int = Field(description="Percentage of each sale, in basis points")
    fixed: Money


class PlanOut(Out):
    key: Literal["free", "pro", "business"]
    name: str
    price: Money
    interval: Literal["month"]
    limits: PlanLimits
    platform_fee: PlatformFee


class PlanList(Out):
    items: list[PlanOut]
    next_cursor: str | None = None


class ChannelPlanOut(Out):
    channel_id: str
    plan: PlanOut
    status: Literal["active", "grace", "canceled"]
    subscription_status: str
    current_period_end: datetime | None
    cancel_at_period_end: bool


class PlanChangeIn(Model):
    plan: Literal["free", "pro", "business"]
    success_url: RedirectUrl | None = Field(
        default=None, description="Required when a checkout is needed (no active subscription)"
    )
    cancel_url: RedirectUrl | None = None


class PlanChangeOut(Out):
    action: Literal["checkout", "updating", "canceling", "unchanged"]
    checkout_url: str | None = None
    session_id: str | None = None
    current: ChannelPlanOut


class DisputeOut(Out):
    id: str
    stripe_dispute_id: str
    status: str
    outcome: Literal["won", "lost", "inquiry_closed"] | None
    reason: str | None
    amount: Money
    payment_id: str | None
    course_id: str | None
    user_id: str | None
    evidence_due_by: datetime | None
    opened_at: datetime
    closed_at: datetime | None


class DisputeList(Out):
    items: list[DisputeOut]
    next_cursor: str | None


class DisputeQuery(Model):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=512)
    status: Literal["open", "closed"] | None = None


class WebhookAck(Out):
    received: bool
    duplicate: bool
    status: str | None = None


# -- what the use cases answer: TypedDicts of the JSON the Out models above document ---------
# (docs/decisions/typed-use-case-results.md: no model is built per answer)
class Onboarding(TypedDict):
    """OnboardingOut."""

    url: str
    expires_at: datetime | None


class PayoutAccount(TypedDict):
    """PayoutAccountOut."""

    stripe_account_id: str | None
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    requirements_due: list[str]


class Checkout(TypedDict):
    """CheckoutOut."""

    checkout_url: str
    session_id: str


class PlanPage(TypedDict):
    """PlanList."""

    items: list[PlanInfo]
    next_cursor: str | None


class ChannelPlan(TypedDict):
    """ChannelPlanOut."""

    channel_id: str
    plan: PlanInfo
    status: str
    subscription_status: str
    current_period_end: datetime | None
    cancel_at_period_end: bool


class PlanChange(TypedDict):
    """PlanChangeOut."""

    action: str
    checkout_url: str | None
    session_id: str | None
    current: ChannelPlan


class Dispute(TypedDict):
    """DisputeOut."""

    id: str
    stripe_dispute_id: str
    status: str
    outcome: str | None
    reason: str | None
    amount: MoneyInfo
    payment_id: str | None
    course_id: str | None
    user_id: str | None
    evidence_due_by: datetime | None
    opened_at: datetime
    closed_at: datetime | None


class DisputePage(TypedDict):
    """DisputeList."""

    items: list[Dispute]
    next_cursor: str | None


class WebhookReceipt(TypedDict):
    """WebhookAck: a duplicate delivery has no status."""

    received: bool
    duplicate: bool
    status: NotRequired[str]
