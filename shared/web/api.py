"""The toolkit thin HTTP functions share.

A function declares its routes on an `Api`; the Api is the functions-framework entry point.
For each request it: assigns a request id and trace context, caps the body (413), matches the
route (404/405), authenticates (401), parses JSON into the route's pydantic model (400/415/422,
unknown fields rejected), replays or locks an `Idempotency-Key`, calls the handler, maps
`DomainError`s to problem+json, and publishes the outbox events the request wrote.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Request, Response
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from shared.platform import log as slog
from shared.platform.config import settings
from shared.platform.errors import (
    BadRequest,
    DomainError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    Unavailable,
    Unprocessable,
    UnsupportedMediaType,
)
from shared.platform.pagination import to_json

logger = logging.getLogger("http")
PROBLEM_BASE = "https://creator-platform.dev/problems/"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

# Sent on every response (the load balancer adds the same set, terraform/locals.tf
# `security_response_headers`); a header the handler set itself (the pages' own CSP) wins.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}
# Only on a response the client received over HTTPS (RFC 6797 7.2: not over plain HTTP).
HSTS = "max-age=31536000; includeSubDomains"


@dataclass
class Route:
    method: str
    template: str
    handler: Callable[[Ctx], Any]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int = 200
    response: Any = None
    auth: str = "required"  # required | optional | none
    summary: str = ""
    errors: dict[int, str] = field(default_factory=dict)
    idempotent: bool = False
    content_type: str = "application/json"
    # Other media types the success status may answer in (e.g. a `format=csv` export):
    # media type -> schema, documented next to `content_type`'s.
    also_content: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Browser pages answer their refusals as pages too (the document says so per status).
    error_content_type: str = "application/problem+json"
    raw_body: bool = False  # handler reads the raw bytes itself (webhooks)
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        self.regex = re.compile(pattern)


@dataclass
class Ctx:
    request: Request
    request_id: str
    params: dict[str, str]
    body: Any = None
    query: Any = None
    user_id: str | None = None
    raw: bytes = b""

    @property
    def client_ip(self) -> str:
        """The address per-IP limits and the audit log key on: see `client_address`."""
        return client_address(
            ", ".join(self.request.headers.getlist("X-Forwarded-For")),
            self.request.remote_addr,
            settings().trusted_proxy_hops,
        )

    def require_user(self) -> str:
        if not self.user_id:
            raise Unauthorized("Sign in first.")
        return self.user_id


def client_address(forwarded_for: str, peer: str | None, trusted_hops: int) -> str:
    """The client's address as our own proxies saw it, never a value the client wrote.

    A client may send any `X-Forwarded-For`; each proxy appends to it. Google's external
    Application Load Balancer appends `<client IP>, <forwarding-rule IP>`, so the client is
    the entry just left of the `trusted_hops` entries our infrastructure wrote; anything further
    left is unverified. With no trusted proxy (0), or a header shorter than the proxies would
    have made it, or an entry that is not an IP address, the socket peer is the client.
    """
    if trusted_hops > 0 and forwarded_for:
        entries = [e.strip() for e in forwarded_for.split(",")]
        if len(entries) > trusted_hops:
            candidate = entries[-(trusted_hops + 1)]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
    return peer or "unknown"


def over_https(request: Request) -> bool:
    """The client's scheme: the load balancer's `X-Forwarded-Proto`, else the socket's."""
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return (proto or request.scheme) == "https"


def add_security_headers(request: Request, resp: Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        if name not in resp.headers:
            resp.headers[name] = value
    if over_https(request):
        resp.headers.setdefault("Strict-Transport-Security", HSTS)


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body = json.dumps(payload, default=to_json, separators=(",", ":"))
    return Response(body, status=status, headers=headers, content_type="application/json")


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> Response:
    payload = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra.pop("retry_after"))
    payload.update({k: v for k, v in extra.items() if v is not None})
    resp = json_response(payload, status, headers)
    resp.content_type = "application/problem+json"
    return resp


def problem_from(err: DomainError) -> Response:
    return problem(err.status, err.slug, err.title, err.detail, **err.extra)


def validation_errors(err: ValidationError, where: str) -> list[dict[str, Any]]:
    return [
        {"loc": [where, *e["loc"]], "msg": e["msg"], "type": e["type"]}
        for e in err.errors(include_url=False, include_context=False, include_input=False)
    ]


def _problems_for_framework_errors() -> None:
    """Paths the framework's own router refuses (e.g. a newline in a segment) answer
    problem+json too, not Flask's HTML page. Function modules are executed inside the
    functions-framework app's context, which is what makes `current_app` available here."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return
    for status, slug, title in (
        (404, "not-found", "Not found"),
        (405, "method-not-allowed", "Method not allowed"),
    ):
        current_app.register_error_handler(
            status, lambda e, st=status, sl=slug, ti=title: problem(st, sl, ti, ti + ".")
        )
    if "security_headers" not in current_app.extensions:  # once per app, not per Api
        current_app.extensions["security_headers"] = True
        current_app.after_request(_with_security_headers)


def _with_security_headers(resp: Response) -> Response:
    """Responses the framework answers itself carry the headers too. Api's already do: one
    look for the first header skips the second pass (on the hottest routes, heartbeats)."""
    if next(iter(SECURITY_HEADERS)) in resp.headers:
        return resp
    from flask import request

    add_security_headers(request, resp)
    return resp


def _reject_unstorable_text(data: Any, loc: list[Any]) -> None:
    """NUL and unpaired surrogates pass JSON parsing but cannot be stored (Postgres text is
    UTF-8 without NUL): refuse them as validation errors rather than fail at the database."""
    if isinstance(data, str):
        if "\x00" in data or not _encodable(data):
            raise Unprocessable(
                "Text must be valid UTF-8 without NUL characters.",
                errors=[{"loc": loc, "msg": "invalid characters"}],
            )
    elif isinstance(data, dict):
        for k, v in data.items():
            _reject_unstorable_text(k, loc)
            _reject_unstorable_text(v, [*loc, k])
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _reject_unstorable_text(v, [*loc, i])


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


class Api:
    """The routes of one function (a route family) and its entry point."""

    def __init__(self, function: str, tag: str) -> None:
        self.function = function
        self.tag = tag
        self.routes: list[Route] = []
        # functions_framework.http(api) registers its target by __name__.
        self.__name__ = self.__qualname__ = f"handle_{function}"
        slog.setup()
        _problems_for_framework_errors()

    def route(self, method: str, template: str, **options: Any) -> Callable[[Callable], Callable]:
        def register(handler: Callable[[Ctx], Any]) -> Callable[[Ctx], Any]:
            self.routes.append(Route(method.upper(), template, handler, **options))
            # Static paths win over parameterised ones whatever the declaration order.
            self.routes.sort(key=lambda r: r.template.count("{"))
            return handler

        return register

    # -- entry point ----------------------------------------------------------------
    def __call__(self, request: Request) -> Response:
        rid = request.headers.get("X-Request-Id", "")
        rid = rid if _REQUEST_ID.fullmatch(rid) else uuid.uuid4().hex
        trace_id, span_id = slog.parse_trace(request.headers)
        token = slog.log_context.set(
            {"request_id": rid, "trace_id": trace_id, "span_id": span_id, "function": self.function}
        )
        try:
            resp = self._dispatch(request, rid)
        finally:
            slog.log_context.reset(token)
        resp.headers["X-Request-Id"] = rid
        add_security_headers(request, resp)
        return resp

    def _match(self, request: Request) -> tuple[Route, dict[str, str]]:
        path = request.path
        allowed: list[str] = []
        template = None  # the resource the path names: the first template that matches
        for r in self.routes:
            m = r.regex.fullmatch(path)
            if m:
                if r.method == request.method:
                    return r, m.groupdict()
                template = template or r.template
                if r.template == template:
                    allowed.append(r.method)
        if allowed:
            raise MethodNotAllowed(
                f"{request.method} is not allowed here.", allow=", ".join(allowed)
            )
        raise NotFound(f"No route for {path}.")

    def _dispatch(self, request: Request, rid: str) -> Response:
        from shared.platform import outbox  # light; publishing itself imports pubsub lazily

        ctx: Ctx | None = None
        try:
            route, params = self._match(request)
            ctx = Ctx(request=request, request_id=rid, params=params)
            self._authenticate(route, ctx)
            self._parse(route, ctx)
            with outbox.publishing_after_commit():
                if route.idempotent and "Idempotency-Key" in request.headers:
                    return _with_idempotency(route, ctx, lambda: self._run(route, ctx))
                return self._run(route, ctx)
        except DomainError as e:
            if e.status == 403 and ctx is not None:
                _audit_denied(ctx, e)
            allow = e.extra.pop("allow", None) if e.status == 405 else None
            resp = problem_from(e)
            if allow:
                resp.headers["Allow"] = allow
            if e.status == 401:
                resp.headers["WWW-Authenticate"] = 'Bearer realm="creator-platform"'
            return resp
        except Exception as e:
            if _database_unreachable(e):
                # The connection died mid-request (a restart, a failover) after the retry
                # window of db.transaction: the client may simply try again.
                logger.warning("database connection lost", exc_info=True)
                return problem_from(
                    Unavailable("The database is briefly unavailable; retry shortly.")
                )
            logger.exception("unhandled error")
            return problem(
                500,
                "internal",
                "Internal error",
                "Something went wrong on our side; it has been logged.",
                request_id=rid,
            )

    def _authenticate(self, route: Route, ctx: Ctx) -> None:
        if route.auth == "none":
            return
        header = ctx.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            if route.auth == "required":
                raise Unauthorized("Send `Authorization: Bearer <access_token>`.")
            return
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Send `Authorization: Bearer <access_token>`.")
        from shared.identity import verify_access_token

        ctx.user_id = verify_access_token(token.strip())["sub"]
        ctx_log = slog.log_context.get()
        if ctx_log is not None:
            ctx_log["user_id"] = ctx.user_id

    def _parse(self, route: Route, ctx: Ctx) -> None:
        req = ctx.request
        limit = settings().max_body_bytes
        if req.content_length is not None and req.content_length > limit:
            raise PayloadTooLarge(f"Bodies are limited to {limit} bytes.")
        req.max_content_length = limit
        try:
            ctx.raw = req.get_data(cache=True)
        except RequestEntityTooLarge as e:
            raise PayloadTooLarge(f"Bodies are limited to {limit} bytes.") from e
        if route.query is not None:
            args = req.args.to_dict()
            _reject_unstorable_text(args, ["query"])
            try:
                ctx.query = route.query.model_validate(args)
            except ValidationError as e:
                raise Unprocessable(
                    "Invalid query parameters.", errors=validation_errors(e, "query")
                ) from e
        if route.body is None or route.raw_body:
            return
        data: Any = {}
        if ctx.raw:  # absent means empty; whitespace alone is not JSON (400)
            if req.mimetype != "application/json":
                raise UnsupportedMediaType("Send the body as application/json.")
            try:
                data = json.loads(ctx.raw)
            except (ValueError, UnicodeDecodeError) as e:
                raise BadRequest("The body is not valid JSON.") from e
            _reject_unstorable_text(data, ["body"])
        try:
            ctx.body = route.body.model_validate(data)
        except ValidationError as e:
            raise Unprocessable(
                "The request body is invalid.", errors=validation_errors(e, "body")
            ) from e

    def _run(self, route: Route, ctx: Ctx) -> Response:
        result = route.handler(ctx)
        if isinstance(result, Response):
            return result
        if result is None:
            return Response(status=204)
        return json_response(result, route.status)


def _database_unreachable(err: BaseException) -> bool:
    import sys

    db = sys.modules.get("shared.platform.db")  # not imported: no database was used
    return db is not None and db.connection_lost(err)


def _audit_denied(ctx: Ctx, err: DomainError) -> None:
    """A member tried something their role does not allow: keep a trace in the channel's log.

    Written in its own transaction, since the use case's transaction rolled back with the error.
    """
    from shared.platform import audit
    from shared.platform.db import transaction
    from shared.platform.ids import is_uuid

    channel_id = ctx.params.get("channel_id")
    if not (channel_id and is_uuid(channel_id) and ctx.user_id):
        return
    try:
        with transaction(channel_id=channel_id, user_id=ctx.user_id) as tx:
            audit.record(
                tx,
                action="access.denied",
                channel_id=channel_id,
                actor_user_id=ctx.user_id,
                target_type="route",
                target_id=f"{ctx.request.method} {ctx.request.path}",
                details={"reason": err.detail},
            )
    except Exception:
        logger.warning("could not audit a denied request", exc_info=True)


def _with_idempotency(route: Route, ctx: Ctx, run: Callable[[], Response]) -> Response:
    """Same key + same request within 24 h replays the first answer; another body is 409."""
    from shared.platform import db
    from shared.platform.errors import Conflict

    key = ctx.request.headers["Idempotency-Key"]
    if not 1 <= len(key) <= 255:
        raise Unprocessable(
            "Idempotency-Key must be 1 to 255 characters.",
            errors=[{"loc": ["header", "Idempotency-Key"], "msg": "bad length"}],
        )
    owner = ctx.user_id or f"ip:{ctx.client_ip}"
    digest = hashlib.sha256(f"{route.method} {ctx.request.path}\n".encode() + ctx.raw).digest()
    with db.transaction(user_id=ctx.user_id) as tx:
        tx.exec(
            "DELETE FROM idempotency_keys WHERE user_key = :u AND idem_key = :k"
            " AND created_at < now() - interval '24 hours'",
            u=owner,
            k=key,
        )
        mine = tx.one(
            "INSERT INTO idempotency_keys (user_key, idem_key, route, request_hash)"
            " VALUES (:u, :k, :r, :h) ON CONFLICT DO NOTHING RETURNING idem_key",
            u=owner,
            k=key,
            r=route.template,
            h=digest,
        )
        first = (
            None
            if mine
            else tx.one(
                "SELECT request_hash, status, response, content_type FROM idempotency_keys"
                " WHERE user_key = :u AND idem_key = :k",
                u=owner,
                k=key,
            )
        )
    if first is not None:
        if bytes(first["request_hash"]) != digest:
            raise Conflict("This Idempotency-Key was used with a different request.")
        if first["status"] is None:
            raise Conflict("A request with this Idempotency-Key is still in progress.")
        resp = Response(
            bytes(first["response"]), status=first["status"], content_type=first["content_type"]
        )
        resp.headers["Idempotent-Replayed"] = "true"
        return resp
    try:
        resp = run()
    except BaseException:
        _forget(owner, key)
        raise
    if 200 <= resp.status_code < 300:
        with db.transaction() as tx:
            tx.exec(
                "UPDATE idempotency_keys SET status = :s, response = :b, content_type = :t"
                " WHERE user_key = :u AND idem_key = :k",
                s=resp.status_code,
                b=resp.get_data(),
                t=resp.content_type,
                u=owner,
                k=key,
            )
    else:
        _forget(owner, key)
    return resp


def _forget(owner: str, key: str) -> None:
    from shared.platform import db

    with db.transaction() as tx:
        tx.exec(
            "DELETE FROM idempotency_keys WHERE user_key = :u AND idem_key = :k", u=owner, k=key
        )
