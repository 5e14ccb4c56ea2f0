"""Moderation over HTTP on the local stack: flags (one per member and target), auto-hide after
the channel's threshold of distinct flags, the queue grouped by target oldest first, the
actions remove / restore / dismiss / ban_user, every write of a banned member refused until the
ban is lifted, every action audit-logged and the author told."""

import pytest
import requests

from shared.platform.pagination import encode_cursor
from tests.helpers import assert_problem, make_channel, member_of, outbox_events, signup
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
    mod = member_of(gateway_url, cid, owner, "moderator")
    return {"owner": owner, "cid": cid, "space": r.json()["id"], "mod": mod}


def _post(gw, s, user, body="A post"):
    r = requests.post(
        api(gw, s["cid"], f"/spaces/{s['space']}/posts"),
        json={"body": body},
        headers=user.headers,
        timeout=10,
    )
    return r


def _flag(gw, s, user, kind, target, reason="spam"):
    return requests.post(
        api(gw, s["cid"], f"/{kind}s/{target}/flags"),
        json={"reason": reason},
        headers=user.headers,
        timeout=10,
    )


def _act(gw, s, user, **body):
    return requests.post(
        api(gw, s["cid"], "/moderation/actions"), json=body, headers=user.headers, timeout=10
    )


def _queue(gw, s, user, **params):
    return requests.get(
        api(gw, s["cid"], "/moderation/queue"), params=params, headers=user.headers, timeout=10
    )


def _listed(gw, s, user, **params):
    r = requests.get(
        api(gw, s["cid"], f"/spaces/{s['space']}/posts"),
        params=params,
        headers=user.headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()["items"]]


def _kinds(gw, user):
    r = requests.get(f"{gw}/v1/me/notifications", headers=user.headers, timeout=10)
    return [(n["kind"], n["title"]) for n in r.json()["items"]]


def test_flags_auto_hide_then_queue_and_restore(gateway_url, school, admin):
    s = school
    author = member_of(gateway_url, s["cid"], s["owner"], "student")
    reporters = [member_of(gateway_url, s["cid"], s["owner"], "student") for _ in range(3)]
    pid = _post(gateway_url, s, author, "Buy my thing").json()["id"]

    first = _flag(gateway_url, s, reporters[0], "post", pid, "spam")
    assert first.status_code == 201, first.text
    assert_problem(_flag(gateway_url, s, reporters[0], "post", pid, "again"), 409)
    assert_problem(_flag(gateway_url, s, reporters[1], "post", pid, ""), 422)
    assert _flag(gateway_url, s, reporters[1], "post", pid, "rude").status_code == 201
    assert pid in _listed(gateway_url, s, author)  # 2 of 3: still shown

    assert _flag(gateway_url, s, reporters[2], "post", pid, "ads").status_code == 201
    assert pid not in _listed(gateway_url, s, author)  # hidden at the third distinct flag
    assert pid not in _listed(gateway_url, s, s["mod"])
    assert pid in _listed(gateway_url, s, s["mod"], include="removed")
    assert pid not in _listed(gateway_url, s, author, include="removed")  # students: ignored
    (hidden,) = outbox_events(admin, s["cid"], "post.removed")
    assert hidden["reason"] == "auto_hidden" and hidden["post_id"] == pid
    assert any(k == "moderation" for k, _ in _kinds(gateway_url, author))

    assert_problem(_queue(gateway_url, s, author), 403)
    q = _queue(gateway_url, s, s["mod"])
    assert q.status_code == 200, q.text
    (item,) = q.json()["items"]
    assert item["target_type"] == "post" and item["target_id"] == pid
    assert item["flag_count"] == 3 and item["reasons"] == ["spam", "rude", "ads"]
    assert [r["user_id"] for r in item["reporters"]] == [u.id for u in reporters]
    assert item["status"] == "hidden" and item["excerpt"] == "Buy my thing"
    assert item["author"]["user_id"] == author.id

    r = _act(
        gateway_url, s, s["mod"], target_type="post", target_id=pid, action="restore", reason="fine"
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "visible" and r.json()["flags_resolved"] == 3
    assert pid in _listed(gateway_url, s, author)
    assert _queue(gateway_url, s, s["mod"]).json()["items"] == []
    assert_problem(
        _act(gateway_url, s, s["mod"], target_type="post", target_id=pid, action="restore"), 409
    )
    (restored,) = outbox_events(admin, s["cid"], "post.restored")
    assert restored["version"] > hidden["version"]
    audited = admin.run(
        "SELECT actor_user_id::text, details->>'reason' FROM audit_log WHERE channel_id = :c"
        " AND action = 'moderation.restore' AND target_id = :t",
        c=s["cid"],
        t=pid,
    )
    assert audited == [[s["mod"].id, "fine"]]


def test_queue_oldest_first_grouped_and_paged(gateway_url, school):
    s = school
    author = member_of(gateway_url, s["cid"], s["owner"], "student")
    reporter = member_of(gateway_url, s["cid"], s["owner"], "student")
    posts = [_post(gateway_url, s, author, f"p{i}").json()["id"] for i in range(3)]
    c = requests.post(
        api(gateway_url, s["cid"], f"/posts/{posts[0]}/comments"),
        json={"body": "a comment"},
        headers=author.headers,
        timeout=10,
    ).json()
    for target in (posts[2], posts[0]):
        assert _flag(gateway_url, s, reporter, "post", target).status_code == 201
    assert _flag(gateway_url, s, reporter, "comment", c["id"], "rude").status_code == 201
    assert _flag(gateway_url, s, s["owner"], "post", posts[2], "also").status_code == 201
    seen, cursor = [], None
    while True:
        page = _queue(gateway_url, s, s["mod"], limit=2, **({"cursor": cursor} if cursor else {}))
        assert page.status_code == 200, page.text
        seen += [(i["target_type"], i["target_id"], i["flag_count"]) for i in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert seen == [("post", posts[2], 2), ("post", posts[0], 1), ("comment", c["id"], 1)]


def test_remove_and_dismiss(gateway_url, school, admin):
    s = school
    author = member_of(gateway_url, s["cid"], s["owner"], "student")
    reporter = member_of(gateway_url, s["cid"], s["owner"], "student")
    pid = _post(gateway_url, s, author).json()["id"]
    comment = requests.post(
        api(gateway_url, s["cid"], f"/posts/{pid}/comments"),
        json={"body": "meh"},
        headers=author.headers,
        timeout=10,
    ).json()
    assert _flag(gateway_url, s, reporter, "comment", comment["id"]).status_code == 201
    d = _act(
        gateway_url, s, s["mod"], target_type="comment", target_id=comment["id"], action="dismiss"
    )
    assert d.status_code == 200 and d.json()["status"] == "visible"
    r = _act(
        gateway_url,
        s,
        s["mod"],
        target_type="post",
        target_id=pid,
        action="remove",
        reason="off topic",
    )
    assert r.status_code == 200 and r.json()["status"] == "removed"
    assert_problem(
        requests.get(
            api(gateway_url, s["cid"], f"/posts/{pid}"), headers=author.headers, timeout=10
        ),
        404,
    )
    assert pid not in _listed(gateway_url, s, author)
    titles = [t for k, t in _kinds(gateway_url, author) if k == "moderation"]
    assert "Your post was removed by a moderator" in titles
    assert admin.run(
        "SELECT action, reason FROM moderation_actions WHERE channel_id = :c ORDER BY created_at",
        c=s["cid"],
    ) == [["dismiss", ""], ["remove", "off topic"]]
    bad = _act(gateway_url, s, s["mod"], target_type="post", target_id=pid, action="explode")
    assert_problem(bad, 422)
    assert_problem(
        _act(gateway_url, s, author, target_type="post", target_id=pid, action="restore"), 403
    )


def test_banned_member_every_write_refused_until_lifted(gateway_url, school, admin):
    s = school
    bad = member_of(gateway_url, s["cid"], s["owner"], "student")
    pid = _post(gateway_url, s, bad, "spam spam").json()["id"]
    other = _post(gateway_url, s, s["owner"], "staff post").json()["id"]
    other_comment = requests.post(
        api(gateway_url, s["cid"], f"/posts/{other}/comments"),
        json={"body": "ok"},
        headers=s["owner"].headers,
        timeout=10,
    ).json()["id"]
    assert_problem(
        _act(gateway_url, s, s["mod"], target_type="post", target_id=pid, action="ban_user"), 422
    )
    r = _act(
        gateway_url,
        s,
        s["mod"],
        target_type="post",
        target_id=pid,
        action="ban_user",
        reason="spammer",
        ban_days=7,
    )
    assert r.status_code == 200, r.text
    assert r.json()["ban"]["user_id"] == bad.id and r.json()["status"] == "removed"
    (banned,) = outbox_events(admin, s["cid"], "member.banned")
    assert banned["user_id"] == bad.id and banned["ends_at"]

    h, cid = bad.headers, s["cid"]
    writes = [
        requests.post(
            api(gateway_url, cid, f"/spaces/{s['space']}/posts"),
            json={"body": "x"},
            headers=h,
            timeout=10,
        ),
        requests.post(
            api(gateway_url, cid, f"/posts/{other}/comments"),
            json={"body": "x"},
            headers=h,
            timeout=10,
        ),
        requests.post(
            api(gateway_url, cid, f"/posts/{other}/reactions"),
            json={"kind": "like"},
            headers=h,
            timeout=10,
        ),
        _flag(gateway_url, s, bad, "post", other),
        _flag(gateway_url, s, bad, "comment", other_comment),
    ]
    for w in writes:
        assert_problem(w, 403)
    assert admin.run(
        "SELECT count(*) FROM posts WHERE channel_id = :c AND author_id = :u", c=cid, u=bad.id
    ) == [[1]]
    # reading is still allowed
    assert requests.get(api(gateway_url, cid, f"/posts/{other}"), headers=h, timeout=10).ok

    staff_post = _post(gateway_url, s, s["owner"], "by staff").json()["id"]
    assert_problem(
        _act(
            gateway_url,
            s,
            s["mod"],
            target_type="post",
            target_id=staff_post,
            action="ban_user",
            ban_days=1,
        ),
        409,
    )

    bans = requests.get(api(gateway_url, cid, "/bans"), headers=s["mod"].headers, timeout=10)
    assert [b["user_id"] for b in bans.json()["items"]] == [bad.id]
    assert_problem(requests.get(api(gateway_url, cid, "/bans"), headers=h, timeout=10), 403)
    lift = requests.delete(
        api(gateway_url, cid, f"/bans/{bad.id}"), headers=s["mod"].headers, timeout=10
    )
    assert lift.status_code == 204
    assert_problem(
        requests.delete(
            api(gateway_url, cid, f"/bans/{bad.id}"), headers=s["mod"].headers, timeout=10
        ),
        404,
    )
    assert _post(gateway_url, s, bad, "I am back").status_code == 201
    assert outbox_events(admin, cid, "member.unbanned")[0]["user_id"] == bad.id


def test_expired_ban_no_longer_refuses(gateway_url, school, admin):
    s = school
    bad = member_of(gateway_url, s["cid"], s["owner"], "student")
    pid = _post(gateway_url, s, bad).json()["id"]
    r = _act(
        gateway_url, s, s["mod"], target_type="post", target_id=pid, action="ban_user", ban_days=1
    )
    assert r.status_code == 200
    assert_problem(_post(gateway_url, s, bad), 403)
    admin.run(
        "UPDATE bans SET ends_at = now() - interval '1 second'"
        " WHERE channel_id = :c AND user_id = :u",
        c=s["cid"],
        u=bad.id,
    )
    assert _post(gateway_url, s, bad).status_code == 201


def test_queue_refuses_a_crafted_cursor(gateway_url, school):
    # A cursor is opaque but client-held: one whose time is not a timestamp is a 422, and the
    # database never sees it.
    crafted = encode_cursor({"at": "not-a-time", "id": "00000000-0000-0000-0000-000000000000"})
    r = _queue(gateway_url, school, school["mod"], cursor=crafted)
    assert_problem(r, 422)
    assert _queue(gateway_url, school, school["mod"]).status_code == 200
