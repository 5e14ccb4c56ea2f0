"""HTTP route family: identity (signup, login, token refresh, logout, password reset, /v1/me)."""

import functions_framework

from shared import identity
from shared.identity.schemas import (
    AcceptedOut,
    LoginIn,
    MeOut,
    PasswordIn,
    Profile,
    RecoveryCodes,
    RecoveryCodesOut,
    RefreshIn,
    ResetConfirmIn,
    ResetIn,
    SecondFactorLoginIn,
    Session,
    SignupIn,
    TokensOut,
    TotpCodeIn,
    TotpEnrollment,
    TotpEnrollmentOut,
)
from shared.privacy.schemas import ErasureIn, JobOut
from shared.web import Api, Ctx

api = Api("auth", tag="Identity")
LIMITED = {429: "Too many attempts (Retry-After says when to retry)"}


@api.route(
    "POST",
    "/v1/auth/signup",
    body=SignupIn,
    status=201,
    response=TokensOut,
    auth="none",
    summary="Create an account",
    errors={
        409: "Email taken",
        422: "Weak password (or one over 1024 bytes as UTF-8) or bad email",
        **LIMITED,
    },
)
def signup(ctx: Ctx) -> Session:
    b = ctx.body
    return identity.signup(
        email=b.email,
        password=b.password,
        display_name=b.display_name,
        client_ip=ctx.client_ip,
        terms_version=b.terms_version,
        privacy_version=b.privacy_version,
        analytics_consent=b.analytics_consent,
    )


@api.route(
    "POST",
    "/v1/auth/login",
    body=LoginIn,
    response=TokensOut,
    auth="none",
    summary="Sign in",
    errors={
        401: "Wrong email or password; or, type second-factor-required, the password was right"
        " and `challenge_token` goes to POST /v1/auth/login/second-factor",
        **LIMITED,
    },
)
def login(ctx: Ctx) -> Session:
    return identity.login(email=ctx.body.email, password=ctx.body.password, client_ip=ctx.client_ip)


@api.route(
    "POST",
    "/v1/auth/login/second-factor",
    body=SecondFactorLoginIn,
    response=TokensOut,
    auth="none",
    summary="Finish signing in with an authenticator code or a recovery code",
    errors={
        401: "Wrong code, or the challenge expired or is used up",
        422: "Validation failed: send either `code` or `recovery_code`",
        **LIMITED,
    },
)
def login_second_factor(ctx: Ctx) -> Session:
    b = ctx.body
    return identity.complete_login(
        challenge_token=b.challenge_token,
        code=b.code,
        recovery_code=b.recovery_code,
        client_ip=ctx.client_ip,
    )


@api.route(
    "POST",
    "/v1/auth/second-factor/totp",
    body=PasswordIn,
    status=201,
    response=TotpEnrollmentOut,
    summary="Start adding an authenticator app (confirm with its first code)",
    errors={401: "Not signed in", 403: "Wrong password", 409: "Already on", **LIMITED},
)
def start_totp(ctx: Ctx) -> TotpEnrollment:
    return identity.start_totp(user_id=ctx.require_user(), password=ctx.body.password)


@api.route(
    "POST",
    "/v1/auth/second-factor/totp/confirm",
    body=TotpCodeIn,
    response=RecoveryCodesOut,
    summary="Turn the authenticator on with its current code; answers recovery codes once",
    errors={401: "Not signed in", 403: "Wrong code", 404: "No enrolment started"},
)
def confirm_totp(ctx: Ctx) -> RecoveryCodes:
    return identity.confirm_totp(user_id=ctx.require_user(), code=ctx.body.code)


@api.route(
    "POST",
    "/v1/auth/second-factor/totp/remove",
    body=PasswordIn,
    status=204,
    summary="Remove the authenticator (and its recovery codes)",
    errors={401: "Not signed in", 403: "Wrong password", 404: "No second factor", **LIMITED},
)
def remove_totp(ctx: Ctx) -> None:
    identity.remove_totp(user_id=ctx.require_user(), password=ctx.body.password)


@api.route(
    "POST",
    "/v1/auth/refresh",
    body=RefreshIn,
    response=TokensOut,
    auth="none",
    summary="Rotate a refresh token",
    errors={401: "Invalid, expired or reused token"},
)
def refresh(ctx: Ctx) -> Session:
    return identity.refresh(refresh_token=ctx.body.refresh_token)


@api.route(
    "POST",
    "/v1/auth/logout",
    body=RefreshIn,
    status=204,
    auth="none",
    summary="Sign out everywhere",
)
def logout(ctx: Ctx) -> None:
    identity.logout(refresh_token=ctx.body.refresh_token)


@api.route(
    "POST",
    "/v1/auth/logout-all",
    status=204,
    summary="Sign out everywhere, access tokens included",
    errors={401: "Not signed in"},
)
def logout_all(ctx: Ctx) -> None:
    identity.logout_all(user_id=ctx.require_user())


@api.route(
    "POST",
    "/v1/auth/password-reset",
    body=ResetIn,
    status=202,
    response=AcceptedOut,
    auth="none",
    summary="Mail a password reset link",
    errors=LIMITED,
)
def password_reset(ctx: Ctx) -> dict[str, str]:
    identity.request_password_reset(email=ctx.body.email, client_ip=ctx.client_ip)
    return {"status": "accepted"}


@api.route(
    "POST",
    "/v1/auth/password-reset/confirm",
    body=ResetConfirmIn,
    status=204,
    auth="none",
    summary="Set a new password with a reset token",
    errors={400: "Invalid or used token", 422: "Weak password, or one over 1024 bytes as UTF-8"},
)
def password_reset_confirm(ctx: Ctx) -> None:
    identity.confirm_password_reset(token=ctx.body.token, new_password=ctx.body.new_password)


@api.route(
    "GET",
    "/v1/me",
    response=MeOut,
    summary="The caller and their memberships",
    errors={401: "Not signed in"},
)
def me(ctx: Ctx) -> Profile:
    return identity.me(user_id=ctx.require_user())


@api.route(
    "DELETE",
    "/v1/me",
    body=ErasureIn,
    status=202,
    response=JobOut,
    summary="Erase my account: no login from now on; personal data erased or anonymised",
    errors={
        401: "Not signed in",
        403: "The password does not match",
        409: "Sole owner of a channel with other members: transfer it first",
    },
)
def erase_me(ctx: Ctx) -> dict[str, str]:
    # The privacy capability owns erasure; /v1/me is routed here, whatever the method.
    from shared import privacy

    return privacy.request_erasure(
        user_id=ctx.require_user(),
        password=ctx.body.password,
        delete_posts=ctx.body.delete_posts,
    )


handle_auth = functions_framework.http(api)
