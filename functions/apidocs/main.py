"""HTTP: the OpenAPI document (GET /v1/openapi.json) and its interactive reference, Swagger UI
with bearer-token "try it" (GET /v1/docs)."""

import functions_framework
from flask import Response

from shared.web import Api, Ctx, docs_response, openapi_response

api = Api("apidocs", tag="Documentation")


@api.route(
    "GET",
    "/v1/openapi.json",
    auth="none",
    response={"type": "object"},
    summary="The OpenAPI 3.1 document of this API",
)
def openapi(ctx: Ctx) -> Response:
    return openapi_response()


@api.route(
    "GET",
    "/v1/docs",
    auth="none",
    content_type="text/html",
    response={"type": "string"},
    summary="Interactive API reference (Swagger UI)",
)
def docs(ctx: Ctx) -> Response:
    return docs_response()


handle_apidocs = functions_framework.http(api)
