"""Build the OpenAPI 3.1 document from the functions' route declarations and pydantic models.

Every status the toolkit itself can answer is documented with the route (400/413/415/422 for
bodies, 401 for authenticated routes, 404 where a path has ids), so clients and schemathesis
see exactly what the server does.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.web.api import Api, Route

PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"loc": {"type": "array"}, "msg": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
_REASONS = {
    400: "Malformed request (e.g. invalid JSON)",
    401: "Missing, invalid or expired access token",
    404: "Not found, or not visible to the caller",
    413: "Body larger than 1 MB",
    415: "Body is not application/json",
    422: "Validation failed",
}


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
    if route.auth != "none":
        codes[401] = _REASONS[401]
    if "{" in route.template:
        codes[404] = _REASONS[404]
    codes.update(route.errors)
    return codes


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def component_schemas(apis: list[Api]) -> dict[str, Any]:
    """`components.schemas`: every model a route names, by name, then `Problem`."""
    models: dict[str, type[BaseModel]] = {}
    for api in apis:
        for route in api.routes:
            for m in _models(route):
                models[m.__name__] = m
    _, defs = models_json_schema(
        [(m, "validation") for m in models.values()],
        ref_template="#/components/schemas/{model}",
    )
    schemas = dict(sorted(defs.get("$defs", {}).items()))
    schemas["Problem"] = PROBLEM_SCHEMA
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
    """A raw body is any JSON object; a model body is required when one of its fields is."""
    return {
        "required": not raw
        and bool(body.model_fields)
        and any(f.is_required() for f in body.model_fields.values()),
        "content": {"application/json": {"schema": {"type": "object"} if raw else _ref(body)}},
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
    ok: dict[str, Any] = {"description": "Success"}
    if route.status == 204:
        return ok
    if isinstance(route.response, type) and issubclass(route.response, BaseModel):
        schema: dict[str, Any] = _ref(route.response)
    elif isinstance(route.response, dict):
        schema = route.response
    else:
        schema = {}
    ok["content"] = {route.content_type: {"schema": schema}}
    return ok


def responses(route: Route) -> dict[str, Any]:
    """Success, then every problem+json status by code; a documented 429 names Retry-After."""
    out: dict[str, Any] = {str(route.status): success_response(route)}
    for code, reason in sorted(_statuses(route).items()):
        out[str(code)] = {
            "description": reason,
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
    if code_429 := route.errors.get(429):
        out["429"]["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": code_429}
        }
    return out


def operation(api: Api, route: Route) -> dict[str, Any]:
    """One path item operation (key order is part of the committed document)."""
    op: dict[str, Any] = {
        "operationId": f"{api.function}.{route.handler.__name__}",
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
    endpoints are not public API."""
    found: dict[str, dict[str, Any]] = {}
    for api in sorted(apis, key=lambda a: a.function):
        for route in api.routes:
            if not route.template.startswith("/_"):
                found.setdefault(route.template, {})[route.method.lower()] = operation(api, route)
    return dict(sorted(found.items()))


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
        "paths": paths(apis),
        "components": {
            "schemas": component_schemas(apis),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
