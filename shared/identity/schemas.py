"""Request and response bodies of the identity routes."""

from __future__ import annotations

from typing import Annotated, Literal, TypedDict

from pydantic import Field, field_validator, model_validator

from shared.identity import rules as passwords
from shared.platform.models import Model, Out

# A syntactic check is all an address gets here; the reset mail is what proves it. (The
# email-validator package would add ~16 ms to the auth function's cold start for little more.)
Email = Annotated[
    str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]{1,64}@[^@\s.]+(?:\.[^@\s.]+)+$")
]


def _check_password(value: str) -> str:
    reasons = passwords.problems(value)
    if reasons:
        raise ValueError("password " + "; ".join(reasons))
    return value


class SignupIn(Model):
    email: Email
    password: str = Field(max_length=4096)
    display_name: str = Field(min_length=1, max_length=80)
    # Consent (issue 15 item 3), optional so earlier clients keep working: the versions of the
    # terms and the privacy policy the person accepted, and the opt-in to analytics beyond
    # what the service itself needs (absent: not asked, treated as no).
    terms_version: str | None = Field(
        default=None, min_length=1, max_length=40, description="Terms of service accepted"
    )
    privacy_version: str | None = Field(
        default=None, min_length=1, max_length=40, description="Privacy policy accepted"
    )
    analytics_consent: bool | None = Field(
        default=None, description="Opt-in to analytics beyond what the service needs"
    )

    _pw = field_validator("password")(_check_password)


class LoginIn(Model):
    email: str = Field(max_length=254)
    password: str = Field(max_length=4096)


class RefreshIn(Model):
    refresh_token: str = Field(min_length=1, max_length=512)


class ResetIn(Model):
    email: str = Field(max_length=254)


class ResetConfirmIn(Model):
    token: str = Field(min_length=1, max_length=512)
    new_password: str = Field(max_length=4096)

    _pw = field_validator("new_password")(_check_password)


class UserOut(Out):
    id: str
    email: str
    display_name: str


class TokensOut(Out):
    user: UserOut
    access_token: str
    refresh_token: str
    expires_in: int = Field(description="Seconds until the access token expires")
    token_type: str = "Bearer"


class MembershipOut(Out):
    channel_id: str
    role: str


class MeOut(UserOut):
    second_factor: bool = Field(description="Whether signing in asks for an authenticator code")
    memberships: list[MembershipOut]


class AcceptedOut(Out):
    status: str = "accepted"


# --- What the use cases return: the JSON of the response models above, as plain dicts -------
# (TypedDicts, not model instances: building a model per answer would cost every request.)


class UserView(TypedDict):
    id: str
    email: str
    display_name: str


class TokenPair(TypedDict):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: Literal["Bearer"]


class Session(TokenPair):
    """TokensOut: who signed in, and their tokens."""

    user: UserView


class Membership(TypedDict):
    channel_id: str
    role: str


class Profile(UserView):
    """MeOut."""

    second_factor: bool
    memberships: list[Membership]


class ResetMailTask(Model):
    """The Cloud Tasks body (queue auth-mail) of one password reset request."""

    kind: Literal["password_reset"] = "password_reset"
    email: str = Field(max_length=254)
    client_ip: str = Field(max_length=64)
    requested_at: float = Field(description="Epoch seconds when the reset was requested")


class SecurityNoticeTask(Model):
    """The Cloud Tasks body (queue auth-mail) of a mail telling a user their security changed."""

    kind: Literal["security_notice"] = "security_notice"
    user_id: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    notice: Literal["second_factor_enabled", "second_factor_removed", "recovery_code_used"]
    requested_at: float


# --- Second factor ------------------------------------------------------------------------


class PasswordIn(Model):
    password: str = Field(max_length=4096, description="The account's current password")


class TotpCodeIn(Model):
    code: str = Field(pattern=r"^[0-9]{6}$", description="The authenticator app's 6 digits")


class SecondFactorLoginIn(Model):
    challenge_token: str = Field(min_length=1, max_length=512)
    code: str | None = Field(default=None, pattern=r"^[0-9]{6}$")
    recovery_code: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one_factor(self) -> SecondFactorLoginIn:
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("send either code or recovery_code")
        return self


class TotpEnrollmentOut(Out):
    secret: str = Field(description="Base32 secret for the authenticator app")
    otpauth_uri: str = Field(description="The same as an otpauth:// URI (for a QR code)")


class RecoveryCodesOut(Out):
    recovery_codes: list[str] = Field(description="Single-use codes; shown this once")


class TotpEnrollment(TypedDict):
    secret: str
    otpauth_uri: str


class RecoveryCodes(TypedDict):
    recovery_codes: list[str]
