"""Helpers shared by the integration and end-to-end tests: real HTTP against the gateway."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

PASSWORD = "correct horse battery staple"


@dataclass
class User:
    id: str
    email: str
    token: str
    refresh_token: str
    password: str = PASSWORD
    headers: dict[str, str] = field(default_factory=dict)


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def signup(gateway_url: str, *, name: str = "Test User", email: str | None = None) -> User:
    email = email or f"{unique('u')}@example.com"
    r = requests.post(
        f"{gateway_url}/v1/auth/signup",
        timeout=10,
        json={"email": email, "password": PASSWORD, "display_name": name},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return User(
        id=body["user"]["id"],
        email=email,
        token=body["access_token"],
        refresh_token=body["refresh_token"],
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )


def make_channel(gateway_url: str, owner: User, **fields: Any) -> dict[str, Any]:
    body = {"slug": unique("ch"), "name": "Test Channel", **fields}
    r = requests.post(f"{gateway_url}/v1/channels", json=body, headers=owner.headers, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def add_member(gateway_url: str, channel_id: str, owner: User, member: User, role: str) -> None:
    r = requests.post(
        f"{gateway_url}/v1/channels/{channel_id}/members",
        timeout=10,
        json={"email": member.email, "role": role},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text


def member_of(gateway_url: str, channel_id: str, owner: User, role: str) -> User:
    """A fresh user holding `role` in the channel."""
    user = signup(gateway_url, name=f"{role} user")
    add_member(gateway_url, channel_id, owner, user, role)
    return user


def assert_problem(resp: requests.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["Content-Type"].startswith("application/problem+json"), resp.headers
    body = resp.json()
    assert body["status"] == status and body["title"] and "detail" in body and "type" in body
    return body


def eventually(read: Callable[[], Any], expected: Any, *, timeout: float = 5.0) -> Any:
    """Poll `read()` until it answers `expected` (for writes that land moments later, e.g.
    heartbeats, written in batches); assert on the last answer."""
    deadline = time.monotonic() + timeout
    got = read()
    while got != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        got = read()
    assert got == expected
    return got
