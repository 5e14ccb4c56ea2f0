"""Notifications over HTTP on the local stack: listing and marking read, preferences, the
email digest cron with a signed one-click unsubscribe link (no login; a tampered one refused),
and live-session changes reaching the batch's students through the domain-events topic."""

from urllib.parse import urlsplit

import pytest
import requests

from shared.platform import outbox
from shared.platform.db import transaction
from shared.platform.ids import uuid7
from tests.factories import make_batch, make_course
from tests.helpers import assert_problem, eventually, make_channel, member_of, signup
from tests.helpers import channel_url as api

pytestmark = pytest.mark.e2e


@pytest.fixture
def admin(admin_db):
    conn = admin_db()
    yield conn
    conn.close()


@pytest.fixture
def school(gateway_url):
    owner = signup(gateway_url, name="Olga Owner")
    cid = make_channel(gateway_url, owner)["id"]
    r = requests.post(
        api(gateway_url, cid, "/spaces"),
        json={"name": "General"},
        headers=owner.headers,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return {"owner": owner, "cid": cid, "space": r.json()["id"]}


def _replies(gw, s, author, replier, n):
    pid = requests.post(
        api(gw, s["cid"], f"/spaces/{s['space']}/posts"),
        json={"body": "Question?"},
        headers=author.headers,
        timeout=10,
    ).json()["id"]
    for i in range(n):
        r = requests.post(
            api(gw, s["cid"], f"/posts/{pid}/comments"),
            json={"body": f"answer {i}"},
            headers=replier.headers,
            timeout=10,
        )
        assert r.status_code == 201, r.text
    return pid


def _mine(gw, user, **params):
    r = requests.get(f"{gw}/v1/me/notifications", params=params, headers=user.headers, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_list_page_and_mark_read(gateway_url, school):
    s = school
    author = member_of(gateway_url, s["cid"], s["owner"], "student")
    _replies(gateway_url, s, author, s["owner"], 3)
    first = _mine(gateway_url, author, limit=2)
    assert first["unread_count"] == 3 and len(first["items"]) == 2 and first["next_cursor"]
    rest = _mine(gateway_url, author, limit=2, cursor=first["next_cursor"])
    ids = [n["id"] for n in first["items"] + rest["items"]]
    assert len(set(ids)) == 3 and rest["next_cursor"] is None
    assert_problem(requests.get(f"{gateway_url}/v1/me/notifications", timeout=10), 401)

    r = requests.post(
        f"{gateway_url}/v1/me/notifications/read",
        json={"ids": ids[:1]},
        headers=author.headers,
        timeout=10,
    )
    assert r.status_code == 204
    assert _mine(gateway_url, author)["unread_count"] == 2
    assert [n["id"] for n in _mine(gateway_url, author, unread="true")["items"]] == ids[1:]
    # someone else cannot mark them
    other = signup(gateway_url)
    requests.post(
        f"{gateway_url}/v1/me/notifications/read",
        json={"ids": ids},
        headers=other.headers,
        timeout=10,
    )
    assert _mine(gateway_url, author)["unread_count"] == 2
    r = requests.post(
        f"{gateway_url}/v1/me/notifications/read", json={}, headers=author.headers, timeout=10
    )
    assert r.status_code == 204 and _mine(gateway_url, author)["unread_count"] == 0


def test_preferences_turn_a_kind_off(gateway_url, school):
    s = school
    author = member_of(gateway_url, s["cid"], s["owner"], "student")
    url = f"{gateway_url}/v1/me/notification-preferences"
    got = requests.get(url, headers=author.headers, timeout=10).json()
    assert got == {
        "replies": True,
        "mentions": True,
        "moderation": True,
        "live_sessions": True,
        "email_digest": True,
    }
    r = requests.put(url, json={**got, "replies": False}, headers=author.headers, timeout=10)
    assert r.status_code == 200 and r.json()["replies"] is False
    assert_problem(
        requests.put(url, json={"replies": "maybe"}, headers=author.headers, timeout=10), 422
    )
    _replies(gateway_url, s, author, s["owner"], 1)
    assert _mine(gateway_url, author)["items"] == []


def test_digest_mail_with_one_click_unsubscribe(gateway_url, school, admin, wait_for_mail):
    s = school
    author = member_of(gateway_url, s["cid"], s["owner"], "student")
    _replies(gateway_url, s, author, s["owner"], 2)
    admin.run(
        "UPDATE notifications SET created_at = now() - interval '2 hours' WHERE user_id = :u",
        u=author.id,
    )
    r = requests.post(f"{gateway_url}/_internal/community_digest", timeout=60)
    assert r.status_code == 200 and r.json()["mailed"] >= 1, r.text
    msg = wait_for_mail(author.email, subject="unread notification")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = msg["List-Unsubscribe"].strip("<>")
    assert link in msg.get_content()
    assert "Olga Owner replied" in msg.get_content()
    assert admin.run(
        "SELECT count(*) FROM notifications WHERE user_id = :u AND emailed_at IS NOT NULL",
        u=author.id,
    ) == [[2]]
    # a second run mails nothing more to them
    requests.post(f"{gateway_url}/_internal/community_digest", timeout=60)
    assert admin.run(
        "SELECT count(*) FROM notifications WHERE user_id = :u AND emailed_at IS NULL",
        u=author.id,
    ) == [[0]]

    parts = urlsplit(link)
    url = f"{gateway_url}{parts.path}?{parts.query}"
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "<form method=post" in page.text
    prefs = f"{gateway_url}/v1/me/notification-preferences"
    assert requests.get(prefs, headers=author.headers, timeout=10).json()["email_digest"] is True

    token = parts.query.split("token=", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    forged = requests.post(
        f"{gateway_url}{parts.path}?token={tampered}",
        data="List-Unsubscribe=One-Click",
        timeout=10,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_problem(forged, 403)
    other_user = token.replace(author.id, s["owner"].id)
    assert_problem(requests.post(f"{gateway_url}{parts.path}?token={other_user}", timeout=10), 403)
    assert requests.get(prefs, headers=author.headers, timeout=10).json()["email_digest"] is True

    done = requests.post(
        url,
        data="List-Unsubscribe=One-Click",
        timeout=10,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200, done.text
    assert requests.get(prefs, headers=author.headers, timeout=10).json()["email_digest"] is False
    _replies(gateway_url, s, author, s["owner"], 1)
    admin.run(
        "UPDATE notifications SET created_at = now() - interval '2 hours' WHERE user_id = :u",
        u=author.id,
    )
    requests.post(f"{gateway_url}/_internal/community_digest", timeout=60)
    assert admin.run(
        "SELECT count(*) FROM notifications WHERE user_id = :u AND emailed_at IS NULL",
        u=author.id,
    ) == [[1]]  # unsubscribed: not mailed


def test_live_session_change_notifies_the_batch_students(gateway_url, school, admin):
    s = school
    owner = s["owner"]
    course = make_course(admin, s["cid"], owner.id, lessons=(("text", None),))
    batch = make_batch(admin, s["cid"], course["id"], None)
    student = member_of(gateway_url, s["cid"], owner, "student")
    outsider = member_of(gateway_url, s["cid"], owner, "student")
    admin.run(
        "INSERT INTO enrollments (id, channel_id, course_id, user_id, batch_id, source)"
        " VALUES (gen_random_uuid(), :c, :co, :u, :b, 'staff')",
        c=s["cid"],
        co=course["id"],
        u=student.id,
        b=batch,
    )
    session = uuid7()
    values = {
        "id": session,
        "channel_id": s["cid"],
        "batch_id": batch,
        "title": "Kickoff",
        "duration_minutes": 60,
        "provider": "zoom",
        "provider_meeting_id": uuid7(),
        "join_url": "https://j",
        "start_url": "https://s",
        "created_by": owner.id,
    }
    # Only the columns the live schema has now (the live helper evolves it).
    have = {
        r[0]
        for r in admin.run(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'live_sessions'"
        )
    }
    cols = [c for c in values if c in have]
    admin.run(
        f"INSERT INTO live_sessions ({', '.join(cols)}, starts_at)"
        f" VALUES ({', '.join(':' + c for c in cols)}, now() + interval '1 day')",
        **{c: values[c] for c in cols},
    )
    with outbox.publishing_after_commit(), transaction(channel_id=s["cid"]) as tx:
        outbox.add(
            tx,
            channel_id=s["cid"],
            event_type="live_session.cancelled",
            payload={"session_id": session, "batch_id": batch},
        )
    notes = eventually(
        lambda: _mine(gateway_url, student)["items"], timeout=30, what="a live-session notice"
    )
    assert [(n["kind"], n["title"]) for n in notes] == [
        ("live_session", "Live class cancelled: Kickoff")
    ]
    assert _mine(gateway_url, outsider)["items"] == []
