"""The steps shared/web/openapi.py builds the document from, one route at a time."""

import pytest
from pydantic import BaseModel

from shared.web.api import Api, Ctx, Route
from shared.web.openapi import (
    build,
    component_schemas,
    operation,
    parameters,
    request_body,
    responses,
    schema_name,
    security,
    success_response,
    tags,
)


class NoteIn(BaseModel):
    text: str
    pinned: bool = False


class OptionalIn(BaseModel):
    note: str | None = None


class NoteOut(BaseModel):
    id: str


class NotesQuery(BaseModel):
    limit: int = 20
    tag: str


def show(ctx: Ctx) -> None:
    """Show one note."""


def route(**options) -> Route:
    options.setdefault("handler", show)
    return Route(options.pop("method", "POST"), options.pop("template", "/v1/notes"), **options)


def test_parameters_are_path_ids_then_query_fields_then_the_idempotency_header():
    params = parameters(route(template="/v1/notes/{note_id}", query=NotesQuery, idempotent=True))
    assert [(p["name"], p["in"], p["required"]) for p in params] == [
        ("note_id", "path", True),
        ("limit", "query", False),
        ("tag", "query", True),
        ("Idempotency-Key", "header", False),
    ]


def test_a_body_is_required_only_when_one_of_its_fields_is():
    assert request_body(NoteIn, raw=False) == {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NoteIn"}}},
    }
    assert request_body(OptionalIn, raw=False)["required"] is False


def test_a_raw_body_is_any_object_and_never_required():
    assert request_body(NoteIn, raw=True) == {
        "required": False,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }


def test_security_by_auth_mode():
    assert security("required") == [{"bearerAuth": []}]
    assert security("optional") == [{"bearerAuth": []}, {}]
    assert security("none") == []


def test_success_names_the_model_a_literal_schema_or_nothing():
    assert success_response(route(response=NoteOut))["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/NoteOut"}}
    }
    html = route(response={"type": "string"}, content_type="text/html")
    assert success_response(html)["content"] == {"text/html": {"schema": {"type": "string"}}}
    assert success_response(route())["content"] == {"application/json": {"schema": {}}}
    assert success_response(route(status=204)) == {
        "description": "Success",
        "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
    }


def test_responses_list_success_then_problems_by_code_with_their_headers():
    got = responses(
        route(
            template="/v1/notes/{note_id}",
            body=NoteIn,
            status=201,
            errors={429: "Too many notes", 409: "Duplicate", 503: "Busy"},
        )
    )
    assert list(got) == ["201", "400", "401", "404", "409", "413", "415", "422", "429", "503"]
    assert got["409"]["description"] == "Duplicate"
    for code, answer in got.items():
        assert "X-Request-Id" in answer["headers"], code
        assert ("Retry-After" in answer["headers"]) == (code in {"429", "503"}), code
        if code != "201":
            assert answer["content"] == {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }


def test_an_idempotent_route_documents_the_key_conflict():
    got = responses(route(body=NoteIn, status=201, idempotent=True))
    assert "Idempotency-Key" in got["409"]["description"]
    assert "409" not in responses(route(body=NoteIn, status=201))


def test_an_operation_keeps_the_documents_key_order():
    op = operation(Api("notes", tag="Notes"), route(body=NoteIn, auth="none"))
    assert list(op) == [
        "operationId",
        "summary",
        "tags",
        "responses",
        "description",
        "requestBody",
        "security",
    ]
    assert op["operationId"] == "show"
    assert op["summary"] == "show"
    assert op["description"] == "Show one note."


def test_component_schemas_are_sorted_with_problem_last():
    api = Api("notes", tag="Notes")
    api.routes += [route(body=NoteIn, response=NoteOut), route(query=NotesQuery)]
    assert list(component_schemas([api])) == [
        "NoteIn",
        "NoteOut",
        "NotesQuery",
        "Problem",
        "ProblemError",
    ]


def test_internal_routes_stay_out_of_the_document():
    api = Api("notes", tag="Notes")
    api.routes += [route(template="/_internal/notes"), route(method="GET")]
    assert build([api])["paths"] == {"/v1/notes": {"get": operation(api, route(method="GET"))}}


def test_two_handlers_with_one_name_are_refused():
    api = Api("notes", tag="Notes")
    api.routes += [route(method="GET"), route(method="GET", template="/v1/notes/{note_id}")]
    with pytest.raises(ValueError, match="operationId 'show'"):
        build([api])


def test_a_class_name_two_capabilities_define_is_prefixed_with_the_capability():
    from shared.billing.schemas import Money as BillingMoney
    from shared.catalog.schemas import Money as CatalogMoney

    assert schema_name(CatalogMoney.__module__, "Money") == "CatalogMoney"
    assert schema_name(BillingMoney.__module__, "Money") == "BillingMoney"
    assert schema_name("shared.catalog.schemas", "CourseIn") == "CourseIn"
    api = Api("notes", tag="Notes")

    class PriceIn(BaseModel):
        price: CatalogMoney

    api.routes += [route(body=PriceIn)]
    schemas = component_schemas([api])
    assert "CatalogMoney" in schemas and "Money" not in schemas
    assert schemas["PriceIn"]["properties"]["price"] == {
        "$ref": "#/components/schemas/CatalogMoney"
    }
    assert schemas["CatalogMoney"]["title"] == "CatalogMoney"


def test_tags_list_the_known_capabilities_in_order_then_others():
    apis = [Api(f, tag=t) for f, t in (("x", "Zeta"), ("y", "Courses"), ("z", "Identity"))]
    for api in apis:
        api.routes.append(route())
    internal = Api("cron", tag="Operations")
    internal.routes.append(route(template="/_cron/sweep"))
    apis.append(internal)
    assert [t["name"] for t in tags(apis)] == ["Identity", "Courses", "Zeta"]
    assert tags(apis)[0]["description"]


class PageQuery(BaseModel):
    cursor: str | None = None


def test_a_listed_cursor_documents_why_a_well_formed_one_can_be_refused():
    described = responses(route(method="GET", query=PageQuery))["422"]["description"]
    assert "`cursor`" in described and "next_cursor" in described
    assert responses(route(method="GET", query=NotesQuery))["422"]["description"] == (
        "Validation failed"
    )
