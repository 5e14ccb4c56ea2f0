"""The HTTP toolkit through functions-framework's real request handling (no database)."""

import json

import functions_framework
import pytest
from functions_framework import create_app

from shared.identity.tokens import issue_access_token
from shared.platform.errors import Conflict
from shared.web import Api, Ctx, ListQuery, Model


class Item(Model):
    name: str
    size: int


api = Api("toolkit_test", tag="Test")


@api.route("POST", "/v1/things", body=Item, status=201, auth="none")
def create(ctx: Ctx):
    return {"name": ctx.body.name, "size": ctx.body.size}


@api.route("GET", "/v1/things/{thing_id}", query=ListQuery)
def read(ctx: Ctx):
    if ctx.params["thing_id"] == "taken":
        raise Conflict("already there")
    return {"id": ctx.params["thing_id"], "user": ctx.user_id, "limit": ctx.query.limit}


@api.route("GET", "/v1/things/boom", auth="none")
def boom(ctx: Ctx):
    raise RuntimeError("secret internals")


handle = functions_framework.http(api)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    src = tmp_path_factory.mktemp("fn") / "main.py"
    # An Api made at import registers its problem+json 404/405 on the framework's app; this
    # module was imported by pytest before that app existed, so register them here.
    src.write_text(
        "from shared.web.api import _problems_for_framework_errors\n"
        "from tests.unit.web.test_http_toolkit import handle\n"
        "_problems_for_framework_errors()\n"
    )
    return create_app("handle", str(src)).test_client()


def auth():
    return {"Authorization": "Bearer " + issue_access_token("user-7")[0]}


def problem(resp, status):
    assert resp.status_code == status, resp.data
    assert resp.content_type == "application/problem+json"
    assert resp.json["status"] == status
    return resp.json


def test_valid_body_is_parsed(client):
    r = client.post("/v1/things", json={"name": "a", "size": 3})
    assert r.status_code == 201 and r.json == {"name": "a", "size": 3}


def test_request_id_is_echoed_or_made(client):
    r = client.post("/v1/things", json={"name": "a", "size": 1}, headers={"X-Request-Id": "abc-1"})
    assert r.headers["X-Request-Id"] == "abc-1"
    r = client.post("/v1/things", json={"name": "a", "size": 1}, headers={"X-Request-Id": "<x>"})
    assert r.headers["X-Request-Id"] != "<x>" and len(r.headers["X-Request-Id"]) == 32


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ('{"name": "a", "size": 3', 400),  # malformed JSON
        ("\r\n ", 400),  # whitespace alone is not JSON (an absent body is another thing)
        ('{"name": "a", "size": "big"}', 422),  # wrong type
        ('{"name": "a", "size": 1, "role": "owner"}', 422),  # unknown field (mass assignment)
        ("[1, 2]", 422),
        ("{}", 422),
    ],
)
def test_bad_bodies_are_problems(client, data, status):
    body = problem(client.post("/v1/things", data=data, content_type="application/json"), status)
    if status == 422:
        assert body["errors"] and body["errors"][0]["loc"][0] == "body"


def test_unknown_field_names_the_field(client):
    body = problem(client.post("/v1/things", json={"name": "a", "size": 1, "admin": True}), 422)
    assert ["body", "admin"] in [e["loc"] for e in body["errors"]]


def test_oversize_body_is_413(client):
    big = json.dumps({"name": "x" * 1_100_000, "size": 1})
    problem(client.post("/v1/things", data=big, content_type="application/json"), 413)


def test_non_json_is_415(client):
    problem(client.post("/v1/things", data="name=a", content_type="text/plain"), 415)


def test_unknown_route_and_method(client):
    problem(client.get("/v1/nothing-here"), 404)
    r = client.delete("/v1/things")
    problem(r, 405)
    assert r.headers["Allow"] == "POST"


def test_auth_required_and_checked(client):
    problem(client.get("/v1/things/1"), 401)
    problem(client.get("/v1/things/1", headers={"Authorization": "Bearer nope"}), 401)
    r = client.get("/v1/things/1", headers=auth())
    assert r.status_code == 200 and r.json["user"] == "user-7"


def test_query_limits(client):
    assert client.get("/v1/things/1?limit=100", headers=auth()).json["limit"] == 100
    problem(client.get("/v1/things/1?limit=101", headers=auth()), 422)
    problem(client.get("/v1/things/1?limit=0", headers=auth()), 422)
    problem(client.get("/v1/things/1?limit=abc", headers=auth()), 422)


def test_domain_error_maps_to_status(client):
    assert problem(client.get("/v1/things/taken", headers=auth()), 409)["detail"] == "already there"


def test_static_route_wins_and_crash_is_a_clean_500(client):
    body = problem(client.get("/v1/things/boom"), 500)
    assert "secret internals" not in json.dumps(body)


@pytest.mark.parametrize(
    "raw",
    [
        '{"name": "a\\u0000b", "size": 1}',  # NUL: Postgres text cannot hold it
        '{"name": "\\ud800", "size": 1}',  # an unpaired surrogate is not UTF-8
        '{"name": "ok", "size": 1, "\\u0000": 1}',
    ],
)
def test_unstorable_text_is_422_not_a_database_error(client, raw):
    body = problem(client.post("/v1/things", data=raw, content_type="application/json"), 422)
    assert body["errors"][0]["loc"][0] == "body"


def test_paths_the_framework_router_refuses_are_problems_too(client):
    problem(client.get("/v1/things/a%0Ab", headers=auth()), 404)


def test_allow_lists_the_methods_of_the_matched_resource_only(client):
    r = client.delete("/v1/things/boom")
    problem(r, 405)
    assert r.headers["Allow"] == "GET"
