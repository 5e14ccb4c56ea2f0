"""Build the OpenAPI 3.1 document from the functions' route declarations and pydantic models.

Every status the toolkit itself can answer is documented with the route (400/413/415/422 for
bodies, 401 for authenticated routes, 404 where a path has ids, 409 where an Idempotency-Key
is honoured), each typed as the `Problem` schema in `application/problem+json`, so clients,
generated clients and schemathesis see exactly what the server does.

What generated clients name is part of the contract (docs/API-CHANGELOG.md):
- `operationId` is the handler's function name (`create_course`); the build refuses two
  operations with one id.
- a component is named after its model class; a class name that two capabilities' `schemas`
  modules both define (`Money`) is prefixed with the capability (`CatalogMoney`,
  `BillingMoney`) whichever of them the document uses, so adding a route never renames one.
- every response declares `X-Request-Id`; 429 and 503 declare `Retry-After`.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import CoreModeRef, DefsRef, GenerateJsonSchema, models_json_schema

from shared.web.api import Api, Route

SCHEMAS = "#/components/schemas/"
PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An RFC 9457 problem: every error answer of this API.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "URI naming the kind of problem"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "request_id": {"type": "string", "description": "Present on 500s, for support"},
        "errors": {
            "type": "array",
            "description": "Which inputs were refused (422)",
            "items": {"$ref": SCHEMAS + "ProblemError"},
        },
    },
    "additionalProperties": True,
}
PROBLEM_ERROR_SCHEMA = {
    "type": "object",
    "required": ["loc", "msg"],
    "properties": {
        "loc": {
            "type": "array",
            "description": "Where: `body`, `query` or `header`, then field names and indexes",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        },
        "msg": {"type": "string"},
        "type": {"type": "string"},
    },
}
# Response headers, declared once under `components.headers` and referenced by every response.
HEADERS = {
    "X-Request-Id": {
        "description": "The request's id (the caller's own X-Request-Id when it sent a valid "
        "one): quote it to support",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 0},
    },
}
_RETRY_STATUSES = (429, 503)
# Example bodies of the main requests, by component name: /v1/docs pre-fills "try it" with them.
# tests/unit/web/test_openapi.py validates each against its model.
EXAMPLES: dict[str, dict[str, Any]] = {
    "SignupIn": {
        "email": "ada@example.com",
        "password": "correct horse battery staple",
        "display_name": "Ada Lovelace",
    },
    "LoginIn": {"email": "ada@example.com", "password": "correct horse battery staple"},
    "ChannelIn": {"slug": "ada-codes", "name": "Ada Codes"},
    "MemberIn": {"email": "grace@example.com", "role": "instructor"},
    "CourseIn": {
        "title": "Analytical Engines 101",
        "description": "From Bernoulli numbers to loops.",
        "price": {"amount": 4900, "currency": "eur"},
    },
    "LessonIn": {"title": "Notes on the engine", "kind": "text", "body": "Note G ..."},
    "BatchIn": {"name": "Spring cohort", "starts_at": "2027-03-01T09:00:00Z", "capacity": 30},
    "LiveSessionIn": {
        "title": "Office hours",
        "starts_at": "2027-03-02T17:00:00Z",
        "duration_minutes": 60,
    },
    "UploadIn": {
        "purpose": "lesson_video",
        "lesson_id": "0192f1a4-7c1e-7cc0-8a4e-2b7c3d4e5f60",
        "filename": "lesson-1.mp4",
        "content_type": "video/mp4",
        "size_bytes": 104857600,
    },
    "EnrollIn": {},
    "HeartbeatIn": {"session_id": "player-5f2c", "position_seconds": 42.5, "playing": True},
    "CheckoutIn": {
        "success_url": "https://ada.example.com/thanks",
        "cancel_url": "https://ada.example.com/courses",
    },
}
# One tag per capability (an Api's `tag`), in the order the docs list them.
TAGS = {
    "Identity": "Sign-up, sign-in, tokens, second factor, the caller's own account",
    "Channels": "A creator's channel, its members and roles, its audit log",
    "Courses": "Courses, lessons, resources, batches and their live sessions",
    "Media": "Uploading lesson videos and files",
    "Learning": "Enrolling, playing lessons, progress, completion",
    "Payments": "Plans, checkout, payouts, disputes, the Stripe webhook",
    "Certificates": "Course certificates: the learner's, their public verification, revocation",
    "Analytics": "A channel's figures: the summary and the CSV export",
    "Search": "Searching channels, courses and lessons",
    "Webhooks": "A channel's webhook endpoints, their deliveries and replays",
    "Public pages": "The channel's and courses' public HTML pages",
    "Documentation": "This document and its interactive reference",
}
_REASONS = {
    400: "Malformed request (e.g. invalid JSON)",
    401: "Missing, invalid or expired access token",
    404: "Not found, or not visible to the caller",
    413: "Body larger than 1 MB",
    415: "Body is not application/json",
    422: "Validation failed",
}
# A refusal no schema can express: a cursor is opaque and signed.
_CURSOR_REFUSED = (
    "Validation failed, or a `cursor` that is not a `next_cursor` this list answered"
    " (cursors are opaque and signed)"
)
_IDEMPOTENCY_CONFLICT = (
    "The Idempotency-Key was used with another request, or its first request is still running"
)


def _models(route: Route) -> list[type[BaseModel]]:
    found = [m for m in (route.body, route.query) if isinstance(m, type)]
    if isinstance(route.response, type) and issubclass(route.response, BaseModel):
        found.append(route.response)
    return found


def _statuses(route: Route) -> dict[int, str]:
    codes: dict[int, str] = {}
    if route.body is not None and not route.raw_body:
        codes.update({c: _REASONS[c] for c in (400, 413, 415, 422)})
    if route.query is not None:
        codes[422] = _REASONS[422]
        if "cursor" in route.query.model_fields:
            codes[422] = _CURSOR_REFUSED
    if route.auth != "none":
        codes[401] = _REASONS[401]
    if "{" in route.template:
        codes[404] = _REASONS[404]
    if route.idempotent:
        codes[409] = _IDEMPOTENCY_CONFLICT
    codes.update(route.errors)
    return codes


@lru_cache(maxsize=1)
def _ambiguous_names() -> frozenset[str]:
    """Class names that more than one capability's `schemas` module defines (read, not
    imported: the answer must not depend on which modules a test happened to load)."""
    seen: dict[str, int] = {}
    for path in sorted(Path(__file__).resolve().parents[1].glob("*/schemas.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                seen[node.name] = seen.get(node.name, 0) + 1
    return frozenset(name for name, count in seen.items() if count > 1)


def schema_name(module: str, name: str) -> str:
    """A model's component name: its class name, prefixed by its capability when two
    capabilities define that name (`shared.catalog.schemas.Money` -> `CatalogMoney`)."""
    parts = module.split(".")
    if name in _ambiguous_names() and len(parts) > 1 and parts[0] == "shared":
        return parts[1].title().replace("_", "") + name
    return name


class _ComponentNames(GenerateJsonSchema):
    """Pydantic's JSON schema with our component names preferred to its own choices
    (it would otherwise fall back to `shared__catalog__schemas__Money` on a clash)."""

    def get_defs_ref(self, core_mode_ref: CoreModeRef) -> DefsRef:
        defs_ref = super().get_defs_ref(core_mode_ref)
        core_ref = core_mode_ref[0]
        if "[" not in core_ref:  # not a generic; `module.Class:id`
            module, _, name = core_ref.rsplit(":", 1)[0].rpartition(".")
            choices = self._prioritized_defsref_choices[defs_ref]
            choices.insert(0, DefsRef(schema_name(module, name)))
        return defs_ref


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(
        ref_template=SCHEMAS + "{model}", schema_generator=_ComponentNames
    )
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": SCHEMAS + schema_name(model.__module__, model.__name__)}


def component_schemas(apis: list[Api]) -> dict[str, Any]:
    """`components.schemas`: every model a route names, by name, then `Problem` and the
    `ProblemError` it lists."""
    models: dict[tuple[str, str], type[BaseModel]] = {}
    for api in apis:
        for route in api.routes:
            if route.template.startswith("/_"):
                continue
            for m in _models(route):
                models[m.__module__, m.__qualname__] = m
    _, defs = models_json_schema(
        [(m, "validation") for _, m in sorted(models.items())],
        ref_template=SCHEMAS + "{model}",
        schema_generator=_ComponentNames,
    )
    schemas = dict(sorted(defs.get("$defs", {}).items()))
    for name, schema in schemas.items():
        if "title" in schema:  # generators name classes by title: make it the component's
            schema["title"] = name
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ProblemError"] = PROBLEM_ERROR_SCHEMA
    return schemas


def parameters(route: Route) -> list[dict[str, Any]]:
    """Path ids, then the query model's fields, then `Idempotency-Key` where it applies."""
    params = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in route.regex.groupindex
    ]
    if route.query is not None:
        params += _query_parameters(route.query)
    if route.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": "Same key and body within 24 h replays the first answer",
            }
        )
    return params


def request_body(body: type[BaseModel], *, raw: bool) -> dict[str, Any]:
    """A raw body is any JSON object; a model body is required when one of its fields is,
    and carries its example when `EXAMPLES` has one."""
    media: dict[str, Any] = {"schema": {"type": "object"} if raw else _ref(body)}
    example = EXAMPLES.get(schema_name(body.__module__, body.__name__))
    if example is not None and not raw:
        media["example"] = example
    return {
        "required": not raw
        and bool(body.model_fields)
        and any(f.is_required() for f in body.model_fields.values()),
        "content": {"application/json": media},
    }


def security(auth: str) -> list[dict[str, list[str]]]:
    """Bearer token required, optional (or none at all), or not asked for."""
    if auth == "required":
        return [{"bearerAuth": []}]
    if auth == "optional":
        return [{"bearerAuth": []}, {}]
    return []


def success_response(route: Route) -> dict[str, Any]:
    """The route's own status: its model, literal schema or any content (none for 204)."""
    ok: dict[str, Any] = {"description": "Success", "headers": response_headers(route.status)}
    if route.status == 204:
        return ok
    if isinstance(route.response, type) and issubclass(route.response, BaseModel):
        schema: dict[str, Any] = _ref(route.response)
    elif isinstance(route.response, dict):
        schema = route.response
    else:
        schema = {}
    ok["content"] = {route.content_type: {"schema": schema}}
    ok["content"].update({mt: {"schema": s} for mt, s in route.also_content.items()})
    return ok


def response_headers(status: int) -> dict[str, Any]:
    """`X-Request-Id` on every answer; `Retry-After` too on 429 and 503."""
    names = ["X-Request-Id"] + (["Retry-After"] if status in _RETRY_STATUSES else [])
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def responses(route: Route) -> dict[str, Any]:
    """Success, then every error status by code: problem+json, or the route's own error
    content type (a browser page's refusals are pages, its redirects empty HTML answers)."""
    out: dict[str, Any] = {str(route.status): success_response(route)}
    problem = route.error_content_type == "application/problem+json"
    schema: dict[str, Any] = (
        {"$ref": SCHEMAS + "Problem"}
        if problem
        else {"type": "string", "contentMediaType": route.error_content_type}
    )
    for code, reason in sorted(_statuses(route).items()):
        out[str(code)] = {
            "description": reason,
            "headers": response_headers(code),
            "content": {route.error_content_type: {"schema": schema}},
        }
    return out


def operation(api: Api, route: Route) -> dict[str, Any]:
    """One path item operation (key order is part of the committed document)."""
    op: dict[str, Any] = {
        "operationId": route.handler.__name__,
        "summary": route.summary or route.handler.__name__.replace("_", " "),
        "tags": [api.tag],
        "responses": responses(route),
    }
    doc = (route.handler.__doc__ or "").strip()
    if doc:
        op["description"] = doc
    if params := parameters(route):
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = request_body(route.body, raw=route.raw_body)
    op["security"] = security(route.auth)
    return op


def paths(apis: list[Api]) -> dict[str, dict[str, Any]]:
    """Public routes by template, then method; internal (`/_...`: cron, task, event)
    endpoints are not public API. Two operations with one operationId are refused."""
    found: dict[str, dict[str, Any]] = {}
    owners: dict[str, str] = {}
    for api in sorted(apis, key=lambda a: a.function):
        for route in api.routes:
            if route.template.startswith("/_"):
                continue
            op = operation(api, route)
            where = f"{route.method} {route.template}"
            if owners.setdefault(op["operationId"], where) != where:
                raise ValueError(
                    f"operationId {op['operationId']!r} names both {owners[op['operationId']]}"
                    f" and {where}: rename one handler"
                )
            found.setdefault(route.template, {})[route.method.lower()] = op
    return dict(sorted(found.items()))


def tags(apis: list[Api]) -> list[dict[str, str]]:
    """The tags public operations use, known ones first in `TAGS` order, then any other by
    name (a function with only internal routes adds none)."""
    used = {api.tag for api in apis if any(not r.template.startswith("/_") for r in api.routes)}
    order = [t for t in TAGS if t in used] + sorted(used - set(TAGS))
    return [{"name": t, "description": TAGS[t]} if t in TAGS else {"name": t} for t in order]


def build(apis: list[Api], *, version: str = "1.0.0") -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Creator Platform API",
            "version": version,
            "description": "Multi-tenant creator-education platform. Errors are "
            "application/problem+json (RFC 9457); lists are "
            "{items, next_cursor}; money is {amount, currency} in minor units.",
        },
        "servers": [{"url": "/"}],
        "tags": tags(apis),
        "paths": paths(apis),
        "components": {
            "schemas": component_schemas(apis),
            "headers": HEADERS,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The access_token of POST /v1/auth/login or /v1/auth/signup",
                }
            },
        },
    }
