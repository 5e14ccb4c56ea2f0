"""HTTP route family: identity (signup, login, token refresh, logout, password reset, /v1/me)."""

import functions_framework

from shared import identity
from shared.identity.schemas import (
    AcceptedOut,
    LoginIn,
    MeOut,
    Profile,
    RefreshIn,
    ResetConfirmIn,
    ResetIn,
    Session,
    SignupIn,
    TokensOut,
)
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
    errors={409: "Email taken", 422: "Weak password or bad email", **LIMITED},
)
def signup(ctx: Ctx) -> Session:
    b = ctx.body
    return identity.signup(
        email=b.email, password=b.password, display_name=b.display_name, client_ip=ctx.client_ip
    )


@api.route(
    "POST",
    "/v1/auth/login",
    body=LoginIn,
    response=TokensOut,
    auth="none",
    summary="Sign in",
    errors={401: "Wrong email or password", **LIMITED},
)
def login(ctx: Ctx) -> Session:
    return identity.login(email=ctx.body.email, password=ctx.body.password, client_ip=ctx.client_ip)


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
    errors={400: "Invalid or used token", 422: "Weak password"},
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


handle_auth = functions_framework.http(api)
