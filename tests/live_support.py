"""What the live-class webhook, attendance, reminder and calendar tests share: a channel with
a published course, a batch with enrolled students, a session whose meeting lives under a Zoom
account of our choosing, and Zoom events signed as Zoom signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from tests.helpers import User, make_channel, member_of, run_sql, signup

SECRET = "zoom_local"  # ZOOM_WEBHOOK_SECRET_TOKEN of the local stack (scripts/stack.py)


@dataclass
class World:
    cid: str
    owner: User
    instructor: User
    bystander: User  # a member of the channel in no batch
    course_id: str
    batch_id: str
    other_batch_id: str
    students: list[User]
    account_id: str
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)


def zoom_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_world(gw: str, *, students: int = 2) -> World:
    owner = signup(gw, name="Owner")
    cid = make_channel(gw, owner)["id"]
    base = f"{gw}/v1/channels/{cid}"
    instructor = member_of(gw, cid, owner, "instructor")
    bystander = member_of(gw, cid, owner, "student")
    course = requests.post(
        f"{base}/courses", json={"title": "Cohort"}, headers=owner.headers, timeout=10
    ).json()
    r = requests.post(
        f"{base}/courses/{course['id']}/lessons",
        json={"title": "Welcome", "kind": "text", "body": "Hi"},
        headers=owner.headers,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    r = requests.post(f"{base}/courses/{course['id']}/publish", headers=owner.headers, timeout=10)
    assert r.status_code == 200, r.text
    batches = []
    for name in ("Spring", "Autumn"):
        r = requests.post(
            f"{base}/courses/{course['id']}/batches",
            json={"name": name, "starts_at": "2030-01-01T00:00:00Z"},
            headers=owner.headers,
            timeout=10,
        )
        assert r.status_code == 201, r.text
        batches.append(r.json()["id"])
    enrolled = []
    for i in range(students):
        s = signup(gw, name=f"Student {i} {uuid.uuid4().hex[:4]}")
        r = requests.post(
            f"{base}/courses/{course['id']}/enroll",
            json={"batch_id": batches[0]},
            headers=s.headers,
            timeout=10,
        )
        assert r.status_code == 201, r.text
        enrolled.append(s)
    return World(
        cid=cid,
        owner=owner,
        instructor=instructor,
        bystander=bystander,
        course_id=course["id"],
        batch_id=batches[0],
        other_batch_id=batches[1],
        students=enrolled,
        account_id=f"acc_{uuid.uuid4().hex[:12]}",
    )


def add_session(
    admin_db,
    w: World,
    *,
    starts_at: datetime,
    minutes: int = 60,
    batch_id: str | None = None,
    account_id: str | None = None,
    title: str = "Live class",
) -> dict[str, Any]:
    """A session row as scheduling writes it (the meeting id is Zoom's kind: a number)."""
    sid = str(uuid.uuid4())
    meeting = str(random.randint(10**10, 10**11))
    run_sql(
        admin_db,
        "INSERT INTO live_sessions (id, channel_id, batch_id, title, starts_at, duration_minutes,"
        " provider, provider_meeting_id, provider_account_id, join_url, created_by)"
        " VALUES (:id, :c, :b, :t, :s, :d, 'zoom', :m, :a, :j, :u)",
        id=sid,
        c=w.cid,
        b=batch_id or w.batch_id,
        t=title,
        s=starts_at,
        d=minutes,
        m=meeting,
        a=account_id or w.account_id,
        j=f"https://zoom.local/j/{meeting}",
        u=w.owner.id,
    )
    session = {"id": sid, "meeting_id": meeting, "starts_at": starts_at, "minutes": minutes}
    w.sessions[sid] = session
    return session


def event(
    name: str, account_id: str, meeting_id: str, obj: dict[str, Any] | None = None, **top: Any
) -> bytes:
    return json.dumps(
        {
            "event": name,
            "event_ts": top.pop("event_ts", int(time.time() * 1000)),
            "payload": {"account_id": account_id, "object": {"id": meeting_id, **(obj or {})}},
            **top,
        }
    ).encode()


def participant(
    name: str,
    account_id: str,
    meeting_id: str,
    *,
    at: datetime,
    device: str,
    email: str | None,
    user_name: str = "Someone",
    registrant_id: str | None = None,
) -> bytes:
    p: dict[str, Any] = {
        "user_id": str(random.randint(10**7, 10**8)),
        "participant_uuid": device,
        "user_name": user_name,
        "email": email,
        "join_time" if name.endswith("joined") else "leave_time": zoom_time(at),
    }
    if registrant_id:
        p["registrant_id"] = registrant_id
    return event(
        f"meeting.participant_{name}",
        account_id,
        meeting_id,
        {"participant": p},
        event_ts=int(at.timestamp() * 1000),
    )


def signed(body: bytes, *, secret: str = SECRET, ts: int | None = None) -> dict[str, str]:
    t = int(time.time()) if ts is None else ts
    mac = hmac.new(secret.encode(), f"v0:{t}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "x-zm-signature": f"v0={mac}",
        "x-zm-request-timestamp": str(t),
        "Content-Type": "application/json",
    }


def post_event(gw: str, body: bytes, **kw: Any) -> requests.Response:
    return requests.post(
        f"{gw}/v1/webhooks/live/zoom", data=body, headers=signed(body, **kw), timeout=10
    )


def past(minutes: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes)
