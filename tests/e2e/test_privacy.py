"""Privacy over HTTP (issue 15 items 2 and 3): a user's export and a channel's export as
ZIPs behind short-lived links, and erasure with its refusals (wrong password, sole owner of
a channel with members) and its immediate effect (no login, tokens refused)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import requests

from tests.helpers import PASSWORD, assert_problem, eventually, make_channel, member_of, signup
from tests.helpers import channel_url as api

pytestmark = pytest.mark.e2e


def wait_ready(gw: str, path: str, user) -> dict:
    def read():
        r = requests.get(f"{gw}{path}", headers=user.headers, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    return eventually(
        read,
        until=lambda b: b["status"] != "running",
        timeout=90,
        interval=0.3,
        what="the export to finish",
    )


def zip_at(url: str) -> zipfile.ZipFile:
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, r.text
    return zipfile.ZipFile(io.BytesIO(r.content))


def test_my_export_is_a_zip_of_json_with_a_readme(gateway_url):
    user = signup(gateway_url, name="Exporting Person")
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    requests.post(
        api(gateway_url, ch["id"], "/members"),
        headers=owner.headers,
        timeout=10,
        json={"email": user.email, "role": "student"},
    ).raise_for_status()

    r = requests.post(f"{gateway_url}/v1/me/export", headers=user.headers, timeout=10)
    assert r.status_code == 202, r.text
    job = r.json()["job_id"]
    status = wait_ready(gateway_url, f"/v1/me/export/{job}", user)
    assert status["status"] == "ready" and status["url"] and status["expires_at"]
    zf = zip_at(status["url"])
    names = set(zf.namelist())
    assert {
        "README.md",
        "profile.json",
        "analytics/events.json",
        "database/memberships.user_id.json",
    } <= names
    profile = json.loads(zf.read("profile.json"))
    assert profile["email"] == user.email and profile["display_name"] == "Exporting Person"
    memberships = json.loads(zf.read("database/memberships.user_id.json"))
    assert [(m["channel_id"], m["role"]) for m in memberships] == [(ch["id"], "student")]
    # someone else cannot see it
    other = signup(gateway_url)
    assert_problem(
        requests.get(f"{gateway_url}/v1/me/export/{job}", headers=other.headers, timeout=10), 404
    )
    assert_problem(requests.post(f"{gateway_url}/v1/me/export", timeout=10), 401)


def test_an_owner_exports_the_channel_and_others_cannot(gateway_url):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    student = member_of(gateway_url, ch["id"], owner, "student")
    admin = member_of(gateway_url, ch["id"], owner, "admin")
    r = requests.post(
        api(gateway_url, ch["id"], "/courses"),
        headers=owner.headers,
        timeout=10,
        json={"title": "Exported course"},
    )
    assert r.status_code == 201, r.text

    r = requests.post(api(gateway_url, ch["id"], "/export"), headers=owner.headers, timeout=10)
    assert r.status_code == 202, r.text
    job = r.json()["job_id"]
    status = wait_ready(gateway_url, f"/v1/channels/{ch['id']}/export/{job}", owner)
    zf = zip_at(status["url"])
    assert {
        "README.md",
        "channel.json",
        "members.json",
        "courses.json",
        "enrollments.json",
        "posts.json",
        "payments.json",
        "revenue.json",
    } <= set(zf.namelist())
    members = {m["email"]: m["role"] for m in json.loads(zf.read("members.json"))}
    assert members == {owner.email: "owner", student.email: "student", admin.email: "admin"}
    assert [c["title"] for c in json.loads(zf.read("courses.json"))] == ["Exported course"]
    assert json.loads(zf.read("channel.json"))["id"] == ch["id"]

    for who, status_code in ((student, 403), (admin, 403), (signup(gateway_url), 404)):
        assert_problem(
            requests.post(api(gateway_url, ch["id"], "/export"), headers=who.headers, timeout=10),
            status_code,
        )


def login(gw: str, email: str) -> requests.Response:
    return requests.post(
        f"{gw}/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=10
    )


def test_erasure_refuses_a_wrong_password_then_ends_the_account_at_once(gateway_url):
    user = signup(gateway_url)
    r = requests.delete(
        f"{gateway_url}/v1/me", json={"password": "not it at all"}, headers=user.headers, timeout=10
    )
    assert_problem(r, 403)
    assert_problem(
        requests.delete(f"{gateway_url}/v1/me", json={}, headers=user.headers, timeout=10), 422
    )
    assert login(gateway_url, user.email).status_code == 200  # nothing happened

    r = requests.delete(
        f"{gateway_url}/v1/me", json={"password": PASSWORD}, headers=user.headers, timeout=10
    )
    assert r.status_code == 202, r.text
    assert r.json()["job_id"]
    assert_problem(login(gateway_url, user.email), 401)
    eventually(
        lambda: requests.get(f"{gateway_url}/v1/me", headers=user.headers, timeout=10).status_code,
        401,
        timeout=30,
        interval=0.5,
    )
    r = requests.post(
        f"{gateway_url}/v1/auth/refresh", json={"refresh_token": user.refresh_token}, timeout=10
    )
    assert_problem(r, 401)


def test_a_sole_owner_of_a_channel_with_members_must_transfer_it_first(gateway_url):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    member_of(gateway_url, ch["id"], owner, "student")
    r = requests.delete(
        f"{gateway_url}/v1/me", json={"password": PASSWORD}, headers=owner.headers, timeout=10
    )
    body = assert_problem(r, 409)
    assert body["channels"] == [ch["id"]]
    assert login(gateway_url, owner.email).status_code == 200
