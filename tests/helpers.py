"""Helpers shared by the integration and end-to-end tests: real HTTP against the gateway, the
one polling helper (`eventually`) and small reads of the database. Test data: tests/factories.py.
"""

from __future__ import annotations

import json
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


_UNSET: Any = object()


def eventually(
    read: Callable[[], Any],
    expected: Any = _UNSET,
    *,
    until: Callable[[Any], bool] | None = None,
    timeout: float = 5.0,
    interval: float = 0.05,
    what: str = "",
) -> Any:
    """Poll `read()` until its answer equals `expected` (or satisfies `until`; or, given
    neither, is truthy) and return that answer; at the deadline, fail with the last answer.

    The one way tests wait for an effect that lands moments later on an asynchronous path:
    heartbeats written in batches, Pub/Sub pushes, Cloud Tasks, objects deleted from storage,
    mails. It proves that something happened, never that something did not: an absence needs
    a check that cannot pass by waiting too little (e.g. no event that would cause it exists).
    """
    if expected is not _UNSET and until is not None:
        raise TypeError("eventually() takes `expected` or `until`, not both")
    if until is None:
        until = bool if expected is _UNSET else (lambda got: got == expected)
    deadline = time.monotonic() + timeout
    got = read()
    while not until(got):
        if time.monotonic() > deadline:
            want = f"{expected!r}" if expected is not _UNSET else (what or "the condition")
            raise AssertionError(f"after {timeout}s still {got!r}; waited for {want}")
        time.sleep(interval)
        got = read()
    return got


def channel_url(gateway_url: str, channel_id: str, suffix: str = "") -> str:
    """The URL of a channel-scoped route, e.g. channel_url(gw, cid, "/courses")."""
    return f"{gateway_url}/v1/channels/{channel_id}{suffix}"


def outbox_events(admin, channel_id: str, event_type: str) -> list[dict[str, Any]]:
    """The payloads of the channel's outbox events of a type, oldest first (read as `admin`)."""
    rows = admin.run(
        "SELECT payload FROM outbox WHERE channel_id = :c AND event_type = :t ORDER BY occurred_at",
        c=channel_id,
        t=event_type,
    )
    return [r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in rows]


def run_sql(admin_db: Callable[..., Any], sql: str, **params: Any) -> list[list[Any]]:
    """One statement on a connection of its own, closed after it: the session's `admin_db`
    keeps every connection it opened until the session ends."""
    conn = admin_db()
    try:
        return conn.run(sql, **params)
    finally:
        conn.close()
