"""The steps shared/web/openapi.py builds the document from, one route at a time."""

from pydantic import BaseModel

from shared.web.api import Api, Ctx, Route
from shared.web.openapi import (
    build,
    component_schemas,
    operation,
    parameters,
    request_body,
    responses,
    security,
    success_response,
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
    assert success_response(route(status=204)) == {"description": "Success"}


def test_responses_list_success_then_problems_by_code_and_retry_after_on_429():
    got = responses(
        route(
            template="/v1/notes/{note_id}",
            body=NoteIn,
            status=201,
            errors={429: "Too many notes", 409: "Duplicate"},
        )
    )
    assert list(got) == ["201", "400", "401", "404", "409", "413", "415", "422", "429"]
    assert got["409"]["description"] == "Duplicate"
    assert got["429"]["headers"]["Retry-After"]["description"] == "Too many notes"
    assert "headers" not in got["409"]


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
    assert op["operationId"] == "notes.show"
    assert op["summary"] == "show"
    assert op["description"] == "Show one note."


def test_component_schemas_are_sorted_with_problem_last():
    api = Api("notes", tag="Notes")
    api.routes += [route(body=NoteIn, response=NoteOut), route(query=NotesQuery)]
    assert list(component_schemas([api])) == ["NoteIn", "NoteOut", "NotesQuery", "Problem"]


def test_internal_routes_stay_out_of_the_document():
    api = Api("notes", tag="Notes")
    api.routes += [route(template="/_internal/notes"), route(method="GET")]
    assert build([api])["paths"] == {"/v1/notes": {"get": operation(api, route(method="GET"))}}
