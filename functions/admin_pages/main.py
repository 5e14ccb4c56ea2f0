"""HTTP, browser: a channel's staff pages (sign-in, moderation queue, analytics dashboard).

Apart from the public `pages` function so that its cold start never loads community, analytics
or the identity login; the gateway and the load balancer route `/ch/*/admin/**` here first.
Answers are HTML (errors too); a request without a live session is sent to the login form.
"""

from __future__ import annotations  # annotations name use cases the module must not load early

import functools
from collections.abc import Callable

import functions_framework
from flask import Response

from shared import admin_pages
from shared.web import Api, Ctx

api = Api("admin_pages", tag="Staff pages")
HTML = {"type": "string", "contentMediaType": "text/html"}
A = "/ch/{slug}/admin"
PAGE_ERRORS = {
    303: "No live session: redirected to the login form",
    403: "Not allowed for this role, or a form without its CSRF token",
    404: "No such channel, or not a member of it",
}


def _answer(page: admin_pages.Page) -> Response:
    return Response(page.body, status=page.status, headers=page.headers)


def _html_errors(handler: Callable[[Ctx], admin_pages.Page]) -> Callable[[Ctx], Response]:
    """Refusals as pages (or the login redirect), not problem+json: a browser reads these."""

    @functools.wraps(handler)
    def run(ctx: Ctx) -> Response:
        path = ctx.request.full_path.rstrip("?") if ctx.request.method == "GET" else ""
        return _answer(
            admin_pages.as_page(lambda: handler(ctx), slug=ctx.params.get("slug", ""), path=path)
        )

    return run


def _cookies(ctx: Ctx) -> str | None:
    return ctx.request.headers.get("Cookie")


def _form(ctx: Ctx) -> dict[str, str]:
    return {k: v for k, v in ctx.request.form.items() if isinstance(v, str)}


def _session(ctx: Ctx, page: str) -> admin_pages.StaffSession:
    return admin_pages.staff_session(
        slug=ctx.params["slug"], cookie_header=_cookies(ctx), page=page
    )


@api.route(
    "GET",
    A,
    auth="none",
    content_type="text/html",
    error_content_type="text/html",
    response=HTML,
    status=303,
    summary="Staff area of a channel: redirects to its moderation page",
)
@_html_errors
def staff_home(ctx: Ctx) -> admin_pages.Page:
    return admin_pages.staff_home(slug=ctx.params["slug"])


@api.route(
    "GET",
    A + "/login",
    auth="none",
    content_type="text/html",
    error_content_type="text/html",
    response=HTML,
    summary="Staff sign-in form (sets the pre-login cookie its CSRF token is bound to)",
    errors={404: "No such channel"},
)
@_html_errors
def staff_login_form(ctx: Ctx) -> admin_pages.Page:
    return admin_pages.login_form(
        slug=ctx.params["slug"], cookie_header=_cookies(ctx), next_path=ctx.request.args.get("next")
    )


@api.route(
    "POST",
    A + "/login",
    auth="none",
    content_type="text/html",
    error_content_type="text/html",
    response=HTML,
    status=303,
    summary="Sign in with the account's credentials (and second factor); sets the"
    " short-lived HttpOnly, SameSite=Strict session cookie of the channel's staff pages",
    errors={
        401: "Wrong credentials (the form again)",
        403: "Not staff, or no CSRF token",
        404: "No such channel, or not a member of it",
        429: "Too many attempts",
    },
)
@_html_errors
def staff_login(ctx: Ctx) -> admin_pages.Page:
    return admin_pages.sign_in(
        slug=ctx.params["slug"],
        form=_form(ctx),
        cookie_header=_cookies(ctx),
        client_ip=ctx.client_ip,
    )


@api.route(
    "POST",
    A + "/logout",
    auth="none",
    content_type="text/html",
    error_content_type="text/html",
    response=HTML,
    status=303,
    summary="Sign out of the staff pages (clears the cookie)",
    errors={403: "A live session's form without its CSRF token"},
)
@_html_errors
def staff_logout(ctx: Ctx) -> admin_pages.Page:
    return admin_pages.sign_out(
        slug=ctx.params["slug"], form=_form(ctx), cookie_header=_cookies(ctx)
    )


@api.route(
    "GET",
    A + "/moderation",
    auth="none",
    content_type="text/html",
    error_content_type="text/html",
    response=HTML,
    summary="The moderation queue (flagged posts and comments, oldest first, with their"
    " reasons and reporters) and the active bans (community.moderate)",
    errors=PAGE_ERRORS,
)
@_html_errors
def staff_moderation_page(ctx: Ctx) -> admin_pages.Page:
    return admin_pages.moderation_page(
        session=_session(ctx, "moderation"), params=ctx.request.args.to_dict()
    )


@api.route(
    "POST",
    A + "/moderation",
    auth="none",
    content_type="text/html",
    error_content_type="text/html",
    response=HTML,
    status=303,
    summary="A moderation action from the queue's form (remove, restore, dismiss, ban_user);"
    " redirects back to the queue",
    errors={**PAGE_ERRORS, 409: "The action does not apply to the item now", 422: "A bad form"},
)
@_html_errors
def staff_moderate(ctx: Ctx) -> admin_pages.Page:
    return admin_pages.moderate(session=_session(ctx, "moderation"), form=_form(ctx))


@api.route(
    "POST",
    A + "/moderation/bans/{user_id}/lift",
    auth="none",
    content_type="text/html",
    error_content_type="text/html",
    response=HTML,
    status=303,
    summary="Lift a member's ban; redirects back to the queue",
    errors={**PAGE_ERRORS, 404: "No such channel, or no active ban for this member"},
)
@_html_errors
def staff_lift_ban(ctx: Ctx) -> admin_pages.Page:
    return admin_pages.lift_ban(
        session=_session(ctx, "moderation"), form=_form(ctx), banned_user_id=ctx.params["user_id"]
    )


@api.route(
    "GET",
    A + "/analytics",
    auth="none",
    content_type="text/html",
    error_content_type="text/html",
    response=HTML,
    summary="The creator's dashboard: KPIs of a period as SVG charts and tables, with"
    " course and batch filters and the CSV links (analytics.read)",
    errors={**PAGE_ERRORS, 422: "A bad period or filter (the page says which)"},
)
@_html_errors
def staff_analytics_page(ctx: Ctx) -> admin_pages.Page:
    return admin_pages.analytics_page(
        session=_session(ctx, "analytics"), params=ctx.request.args.to_dict()
    )


@api.route(
    "GET",
    A + "/analytics/export.csv",
    auth="none",
    content_type="text/csv",
    error_content_type="text/html",
    summary="The dashboard's period as CSV for the signed-in browser (kind: daily or revenue)",
    errors={**PAGE_ERRORS, 422: "A bad period, filter or kind"},
)
@_html_errors
def staff_analytics_csv(ctx: Ctx) -> admin_pages.Page:
    return admin_pages.analytics_csv(
        session=_session(ctx, "analytics"), params=ctx.request.args.to_dict()
    )


handle_admin_pages = functions_framework.http(api)
