"""Seed the local platform through its public HTTP API (API.md), idempotently.

Signs up (or logs in) a demo creator and a demo student, has the creator open channel `demo`,
create a course with a text lesson and publish it. Safe to re-run: existing users log in,
409s are tolerated and existing things are found and reused. A route family that is not
deployed yet (the gateway answers 404 with X-Gateway-No-Route) or fails to load (503) is
reported and the remaining steps that depend on it are skipped, never a crash.

    python scripts/seed.py [--gateway http://127.0.0.1:8080]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field

CREATOR = {
    "email": "creator@demo.example.com",
    "password": "demo-creator-pass",
    "display_name": "Demo Creator",
}
STUDENT = {
    "email": "student@demo.example.com",
    "password": "demo-student-pass",
    "display_name": "Demo Student",
}
CHANNEL = {"slug": "demo", "name": "Demo Academy", "theme": {"primary": "#4f46e5", "font": "Inter"}}
COURSE = {
    "title": "Getting started",
    "description": "A first course to explore the platform.",
    "price": None,
}
LESSON = {
    "title": "Welcome",
    "kind": "text",
    "body": "Welcome to the demo course. This lesson is plain text.",
}


class Unavailable(Exception):
    """The function behind a route is not deployed (yet) or failed to load."""


@dataclass
class Result:
    creator: dict = field(default_factory=lambda: dict(CREATOR))
    student: dict = field(default_factory=lambda: dict(STUDENT))
    channel_id: str | None = None
    course_id: str | None = None
    published: bool = False
    notes: list[str] = field(default_factory=list)


class Api:
    def __init__(self, base: str):
        self.base = base.rstrip("/")

    def call(
        self,
        method: str,
        path: str,
        body=None,
        token: str | None = None,
        idempotency_key: str | None = None,
    ):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        if idempotency_key:
            req.add_header("Idempotency-Key", idempotency_key)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw, headers = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as exc:
            status, raw, headers = exc.code, exc.read(), exc.headers
        if (status == 404 and headers.get("X-Gateway-No-Route")) or status == 503:
            raise Unavailable(f"{method} {path} -> {status}")
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = raw.decode(errors="replace")
        return status, doc


def _expect(status: int, doc, ok: tuple[int, ...], what: str):
    if status not in ok:
        raise RuntimeError(f"{what}: unexpected {status}: {doc}")
    return doc


def user_token(api: Api, user: dict) -> str:
    status, doc = api.call("POST", "/v1/auth/signup", user)
    if status == 409:
        status, doc = api.call(
            "POST", "/v1/auth/login", {"email": user["email"], "password": user["password"]}
        )
    doc = _expect(status, doc, (200, 201), f"sign up / log in {user['email']}")
    return doc["access_token"]


def find_channel(api: Api, token: str, slug: str) -> str | None:
    status, me = api.call("GET", "/v1/me", token=token)
    _expect(status, me, (200,), "GET /v1/me")
    for m in me.get("memberships") or []:
        status, ch = api.call("GET", f"/v1/channels/{m['channel_id']}", token=token)
        if status == 200 and ch.get("slug") == slug:
            return ch["id"]
    return None


def ensure_channel(api: Api, token: str) -> str:
    status, doc = api.call(
        "POST", "/v1/channels", CHANNEL, token=token, idempotency_key="seed-channel-demo"
    )
    if status == 201:
        return doc["id"]
    if status == 409:
        channel_id = find_channel(api, token, CHANNEL["slug"])
        if channel_id:
            return channel_id
        raise RuntimeError("channel slug 'demo' is taken by another user")
    _expect(status, doc, (201,), "create channel")
    raise AssertionError("unreachable")


def ensure_course(api: Api, token: str, channel_id: str) -> tuple[str, bool]:
    c = f"/v1/channels/{channel_id}"
    status, doc = api.call("GET", f"{c}/courses?limit=100", token=token)
    _expect(status, doc, (200,), "list courses")
    course = next((x for x in doc.get("items") or [] if x.get("title") == COURSE["title"]), None)
    if course is None:
        status, course = api.call(
            "POST", f"{c}/courses", COURSE, token=token, idempotency_key=f"seed-course-{channel_id}"
        )
        course = _expect(status, course, (200, 201), "create course")
    course_id = course["id"]
    status, full = api.call("GET", f"{c}/courses/{course_id}", token=token)
    full = _expect(status, full, (200,), "read course")
    if not full.get("lessons"):
        status, doc = api.call(
            "POST",
            f"{c}/courses/{course_id}/lessons",
            LESSON,
            token=token,
            idempotency_key=f"seed-lesson-{course_id}",
        )
        _expect(status, doc, (200, 201), "create lesson")
    if full.get("status") == "published":
        return course_id, True
    status, doc = api.call("POST", f"{c}/courses/{course_id}/publish", token=token)
    if status == 409:
        return course_id, False
    _expect(status, doc, (200,), "publish course")
    return course_id, True


def seed(gateway_url: str) -> Result:
    api, result = Api(gateway_url), Result()
    try:
        creator_token = user_token(api, CREATOR)
        user_token(api, STUDENT)
    except Unavailable as exc:
        result.notes.append(f"users not seeded: the auth function is not available ({exc})")
        return result
    try:
        result.channel_id = ensure_channel(api, creator_token)
    except Unavailable as exc:
        result.notes.append(f"channel not seeded: the channels function is not available ({exc})")
        return result
    try:
        result.course_id, result.published = ensure_course(api, creator_token, result.channel_id)
        if not result.published:
            result.notes.append("course exists but could not be published (409)")
    except Unavailable as exc:
        result.notes.append(f"course not seeded: the courses function is not available ({exc})")
    return result


def report(result: Result) -> str:
    lines = [
        f"  demo creator  {result.creator['email']} / {result.creator['password']}",
        f"  demo student  {result.student['email']} / {result.student['password']}",
    ]
    if result.channel_id:
        lines.append(f"  channel       demo  (id {result.channel_id})")
    if result.course_id:
        state = "published" if result.published else "draft"
        lines.append(f"  course        {COURSE['title']!r} ({state}, id {result.course_id})")
    lines += [f"  note: {n}" for n in result.notes]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateway", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080"))
    args = parser.parse_args()
    try:
        result = seed(args.gateway)
    except (RuntimeError, OSError) as exc:
        print(f"seed failed: {exc}", file=sys.stderr)
        return 1
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
