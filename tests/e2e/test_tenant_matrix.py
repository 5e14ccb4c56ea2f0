"""Generated from the served OpenAPI document: every route x every role of channel A, aimed
at channel B, answers 404; every route with a body refuses bad input with 4xx problem+json and
writes nothing."""

import json
import uuid

import pytest
import requests

from tests.helpers import assert_problem, make_channel, member_of, signup

ROLES = ("owner", "admin", "instructor", "moderator", "student")


@pytest.fixture(scope="module")
def spec(gateway_url):
    r = requests.get(f"{gateway_url}/v1/openapi.json", timeout=10)
    assert r.status_code == 200
    return r.json()


@pytest.fixture(scope="module")
def world(gateway_url):
    owner_a, owner_b = signup(gateway_url), signup(gateway_url)
    a, b = make_channel(gateway_url, owner_a), make_channel(gateway_url, owner_b)
    users = {"owner": owner_a}
    for role in ROLES[1:]:
        users[role] = member_of(gateway_url, a["id"], owner_a, role)
    return {"a": a, "b": b, "users": users, "owner_b": owner_b}


def example(schema: dict, spec: dict):
    """A minimal valid instance of a JSON schema (enough to get past validation)."""
    if "$ref" in schema:
        return example(spec["components"]["schemas"][schema["$ref"].split("/")[-1]], spec)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return example(options[0], spec)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if "default" in schema:
        return schema["default"]
    if schema.get("examples"):  # a value no schema can express (a time zone name)
        return schema["examples"][0]
    kind = schema.get("type")
    if kind == "object":
        return {
            k: example(v, spec)
            for k, v in schema.get("properties", {}).items()
            if k in schema.get("required", [])
        }
    if kind == "array":
        return [example(schema.get("items", {}), spec)] * schema.get("minItems", 0)
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    fmt = schema.get("format")
    if fmt == "email":
        return "someone@example.com"
    if fmt == "date-time":
        return "2030-01-01T00:00:00Z"
    if fmt in ("uri", "url"):
        return "https://example.com/x"
    if fmt == "uuid":
        return str(uuid.uuid4())
    if "pattern" in schema and "a-z0-9" in schema["pattern"]:
        return "abc-def"
    return "x" * max(1, schema.get("minLength", 1))


def channel_routes(spec):
    for path, ops in spec["paths"].items():
        if "{channel_id}" not in path:
            continue
        for method, op in ops.items():
            yield method, path, op


def fill(path: str, channel_id: str, others: dict[str, str]) -> str:
    out = path.replace("{channel_id}", channel_id)
    while "{" in out:
        name = out[out.index("{") + 1 : out.index("}")]
        out = out.replace("{" + name + "}", others.get(name, str(uuid.uuid4())))
    return out


def body_for(op, spec):
    rb = op.get("requestBody")
    if not rb:
        return None
    return example(rb["content"]["application/json"]["schema"], spec)


@pytest.mark.parametrize("role", ROLES)
def test_no_role_of_channel_a_reaches_anything_of_channel_b(gateway_url, spec, world, role):
    user = world["users"][role]
    others = {"user_id": world["owner_b"].id}
    checked = []
    for method, path, op in channel_routes(spec):
        if not op.get("security") or {} in op["security"]:
            continue  # routes open to anonymous callers (the published catalogue) are public
        target = fill(path, world["b"]["id"], others)
        r = requests.request(
            method,
            f"{gateway_url}{target}",
            headers=user.headers,
            json=body_for(op, spec),
            timeout=10,
        )
        assert r.status_code == 404, (method, path, r.status_code, r.text[:300])
        assert r.headers["Content-Type"].startswith("application/problem+json")
        checked.append((method, path))
    assert len(checked) >= 7


def test_unknown_channel_ids_are_404_not_500(gateway_url, spec, world):
    user = world["users"]["owner"]
    for channel_id in ("not-a-uuid", str(uuid.uuid4())):
        for method, path, op in channel_routes(spec):
            if not op.get("security") or {} in op["security"]:
                continue
            r = requests.request(
                method,
                f"{gateway_url}{fill(path, channel_id, {})}",
                headers=user.headers,
                json=body_for(op, spec),
                timeout=10,
            )
            assert r.status_code == 404, (method, path, r.status_code)


OWN_CHANNEL = [  # (method, suffix, body, roles allowed)
    ("get", "", None, set(ROLES)),
    ("patch", "", {"name": "Still mine"}, {"owner", "admin"}),
    ("get", "/members", None, {"owner", "admin", "instructor", "moderator"}),
    ("get", "/audit-log", None, {"owner", "admin"}),
]


@pytest.mark.parametrize("role", ROLES)
def test_roles_in_their_own_channel(gateway_url, world, role):
    user = world["users"][role]
    for method, suffix, body, allowed in OWN_CHANNEL:
        r = requests.request(
            method,
            f"{gateway_url}/v1/channels/{world['a']['id']}{suffix}",
            headers=user.headers,
            json=body,
            timeout=10,
        )
        if role in allowed:
            assert r.status_code == 200, (role, method, suffix, r.text)
        else:
            assert_problem(r, 403)


def _row_counts(admin_db) -> dict[str, int]:
    conn = admin_db(role="superuser")
    tables = [
        r[0]
        for r in conn.run(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename NOT IN ('rate_limit_counters', 'schema_migrations')"
        )
    ]
    counts = {t: conn.run(f'SELECT count(*) FROM "{t}"')[0][0] for t in tables}
    conn.close()
    return counts


def test_bad_input_on_every_route_is_4xx_problem_and_writes_nothing(
    gateway_url, spec, world, admin_db
):
    owner = world["users"]["owner"]
    before = _row_counts(admin_db)
    tried = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if "requestBody" not in op or ("{channel_id}" not in path and path != "/v1/channels"):
                continue
            target = fill(path, world["a"]["id"], {"user_id": world["users"]["student"].id})
            valid = body_for(op, spec)
            props = spec_props(op, spec)
            cases = [
                ("{not json", 400),
                (json.dumps({**valid, "unexpected_field": 1}), 422),
                (json.dumps({"x": "y" * 1_100_000}), 413),
                (json.dumps([1, 2, 3]), 422),
            ]
            if props:
                first = next(iter(props))
                cases.append((json.dumps({**valid, first: {"nested": ["wrong", "type"]}}), 422))
            for raw, status in cases:
                r = requests.request(
                    method,
                    f"{gateway_url}{target}",
                    data=raw,
                    timeout=10,
                    headers={**owner.headers, "Content-Type": "application/json"},
                )
                assert r.status_code == status, (method, path, raw[:60], r.status_code, r.text)
                assert r.headers["Content-Type"].startswith("application/problem+json")
                tried += 1
    assert tried >= 20
    assert _row_counts(admin_db) == before


def spec_props(op, spec) -> dict:
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema.get("properties", {})


# -- community (issue 12): its routes, until the committed OpenAPI document lists them -------
COMMUNITY_ROUTES = [  # (method, path under the channel, body); {space}/{post}/{comment} of B
    ("post", "/spaces", {"name": "S"}),
    ("get", "/spaces", None),
    ("post", "/spaces/{space}/posts", {"body": "hi"}),
    ("get", "/spaces/{space}/posts", None),
    ("get", "/posts/{post}", None),
    ("patch", "/posts/{post}", {"body": "edit"}),
    ("delete", "/posts/{post}", None),
    ("put", "/posts/{post}/pin", {"pinned": True}),
    ("post", "/posts/{post}/comments", {"body": "c"}),
    ("patch", "/comments/{comment}", {"body": "c2"}),
    ("delete", "/comments/{comment}", None),
    ("post", "/posts/{post}/reactions", {"kind": "like"}),
    ("delete", "/posts/{post}/reactions/like", None),
    ("post", "/posts/{post}/flags", {"reason": "spam"}),
    ("post", "/comments/{comment}/flags", {"reason": "spam"}),
    ("get", "/moderation/queue", None),
    (
        "post",
        "/moderation/actions",
        {"target_type": "post", "target_id": "{post}", "action": "remove"},
    ),
    ("get", "/bans", None),
    ("delete", "/bans/{user}", None),
    ("get", "/community-settings", None),
    ("put", "/community-settings", {"auto_hide_threshold": 2}),
]


@pytest.fixture(scope="module")
def community_b(gateway_url, world):
    """A space, a post (with a reaction and a flag) and a comment of channel B, by its owner."""
    h, base = world["owner_b"].headers, f"{gateway_url}/v1/channels/{world['b']['id']}"
    space = requests.post(f"{base}/spaces", json={"name": "B"}, headers=h, timeout=10).json()
    post = requests.post(
        f"{base}/spaces/{space['id']}/posts", json={"body": "b"}, headers=h, timeout=10
    ).json()
    comment = requests.post(
        f"{base}/posts/{post['id']}/comments", json={"body": "c"}, headers=h, timeout=10
    ).json()
    requests.post(
        f"{base}/posts/{post['id']}/reactions", json={"kind": "like"}, headers=h, timeout=10
    )
    return {
        "space": space["id"],
        "post": post["id"],
        "comment": comment["id"],
        "user": world["owner_b"].id,
    }


def _filled(value, ids):
    if isinstance(value, str):
        for k, v in ids.items():
            value = value.replace("{" + k + "}", v)
        return value
    if isinstance(value, dict):
        return {k: _filled(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("role", ROLES)
def test_no_role_of_channel_a_reaches_channel_bs_community(gateway_url, world, community_b, role):
    user = world["users"][role]
    for method, suffix, body in COMMUNITY_ROUTES:
        r = requests.request(
            method,
            f"{gateway_url}/v1/channels/{world['b']['id']}{_filled(suffix, community_b)}",
            headers=user.headers,
            json=_filled(body, community_b),
            timeout=10,
        )
        assert_problem(r, 404)
    # and B's content is untouched
    got = requests.get(
        f"{gateway_url}/v1/channels/{world['b']['id']}/posts/{community_b['post']}",
        headers=world["owner_b"].headers,
        timeout=10,
    ).json()
    assert got["status"] == "visible" and got["reactions"] == {"like": 1}
    assert [c["id"] for c in got["comments"]] == [community_b["comment"]]


COMMUNITY_OWN = [  # (method, suffix, body, roles allowed) in the caller's own channel
    ("get", "/spaces", None, set(ROLES)),
    ("get", "/moderation/queue", None, {"owner", "admin", "instructor", "moderator"}),
    ("get", "/bans", None, {"owner", "admin", "instructor", "moderator"}),
    ("get", "/community-settings", None, {"owner", "admin", "instructor", "moderator"}),
    ("put", "/community-settings", {"auto_hide_threshold": 3}, {"owner", "admin"}),
]


@pytest.mark.parametrize("role", ROLES)
def test_community_roles_in_their_own_channel(gateway_url, world, role):
    user = world["users"][role]
    for method, suffix, body, allowed in COMMUNITY_OWN:
        r = requests.request(
            method,
            f"{gateway_url}/v1/channels/{world['a']['id']}{suffix}",
            headers=user.headers,
            json=body,
            timeout=10,
        )
        if role in allowed:
            assert r.status_code == 200, (role, method, suffix, r.text)
        else:
            assert_problem(r, 403)
