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


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build(apis: list[Api], *, version: str = "1.0.0") -> dict[str, Any]:
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
    paths: dict[str, dict[str, Any]] = {}
    for api in sorted(apis, key=lambda a: a.function):
        for route in api.routes:
            if route.template.startswith("/_"):
                continue  # internal (cron, task, event) endpoints are not public API
            op: dict[str, Any] = {
                "operationId": f"{api.function}.{route.handler.__name__}",
                "summary": route.summary or route.handler.__name__.replace("_", " "),
                "tags": [api.tag],
                "responses": {},
            }
            doc = (route.handler.__doc__ or "").strip()
            if doc:
                op["description"] = doc
            params = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in route.regex.groupindex
            ]
            if route.query is not None:
                params += _query_parameters(route.query, schemas)
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
            if params:
                op["parameters"] = params
            if route.body is not None:
                body_schema = _ref(route.body) if not route.raw_body else {"type": "object"}
                op["requestBody"] = {
                    "required": not route.raw_body
                    and bool(route.body.model_fields)
                    and any(f.is_required() for f in route.body.model_fields.values()),
                    "content": {"application/json": {"schema": body_schema}},
                }
            if route.auth == "required":
                op["security"] = [{"bearerAuth": []}]
            elif route.auth == "optional":
                op["security"] = [{"bearerAuth": []}, {}]
            else:
                op["security"] = []
            ok: dict[str, Any] = {"description": "Success"}
            if route.status != 204:
                if isinstance(route.response, type) and issubclass(route.response, BaseModel):
                    ok["content"] = {route.content_type: {"schema": _ref(route.response)}}
                elif isinstance(route.response, dict):
                    ok["content"] = {route.content_type: {"schema": route.response}}
                else:
                    ok["content"] = {route.content_type: {"schema": {}}}
            op["responses"][str(route.status)] = ok
            for code, reason in sorted(_statuses(route).items()):
                op["responses"][str(code)] = {
                    "description": reason,
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                }
            if code_429 := route.errors.get(429):
                op["responses"]["429"]["headers"] = {
                    "Retry-After": {"schema": {"type": "integer"}, "description": code_429}
                }
            path = paths.setdefault(route.template, {})
            path[route.method.lower()] = op
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
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
