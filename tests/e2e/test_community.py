"""Community over HTTP on the local stack: spaces and who sees them, posts in Markdown
(sanitised), comments threaded one level, reactions, pins, edits with history, soft delete,
cursor pagination, mentions, and every write audited and emitted in its transaction."""

import pytest
import requests

from tests.factories import make_batch, make_course
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
    ch = make_channel(gateway_url, owner)
    cid = ch["id"]
    r = requests.post(
        api(gateway_url, cid, "/spaces"),
        json={"name": "General"},
        headers=owner.headers,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return {"owner": owner, "cid": cid, "space": r.json()["id"]}


def post(gw, s, user, body="Hello **world**", title="Hi", space=None):
    return requests.post(
        api(gw, s["cid"], f"/spaces/{space or s['space']}/posts"),
        json={"title": title, "body": body},
        headers=user.headers,
        timeout=10,
    )


def test_post_is_sanitised_markdown_audited_and_emitted(gateway_url, school, admin):
    s = school
    student = member_of(gateway_url, s["cid"], s["owner"], "moderator")  # no new-member link cap
    r = post(
        gateway_url,
        s,
        student,
        body="**bold** <script>alert(1)</script> [x](javascript:alert(1)) "
        "[ok](https://example.com) ![t](https://evil.example/p.gif)",
    )
    assert r.status_code == 201, r.text
    p = r.json()
    html = p["body_html"]
    assert "<strong>bold</strong>" in html
    assert "<script" not in html and "javascript:" not in html.replace("[x](javascript:", "")
    assert 'href="javascript' not in html and "<img" not in html
    assert 'rel="nofollow ugc noopener"' in html and 'href="https://example.com"' in html
    assert p["author"]["user_id"] == student.id and p["status"] == "visible"

    (event,) = outbox_events(admin, s["cid"], "post.created")
    assert event["post_id"] == p["id"] and event["version"] == 1
    assert event["body_html"] == html and event["space_id"] == s["space"]
    audited = admin.run(
        "SELECT actor_user_id::text FROM audit_log WHERE channel_id = :c"
        " AND action = 'post.created' AND target_id = :t",
        c=s["cid"],
        t=p["id"],
    )
    assert audited == [[student.id]]


def test_body_limits_and_unknown_fields_are_422_and_nothing_written(gateway_url, school, admin):
    s = school
    assert_problem(post(gateway_url, s, s["owner"], body="x" * 20_001), 422)
    assert_problem(post(gateway_url, s, s["owner"], body=""), 422)
    r = requests.post(
        api(gateway_url, s["cid"], f"/spaces/{s['space']}/posts"),
        json={"body": "hi", "status": "removed"},
        headers=s["owner"].headers,
        timeout=10,
    )
    assert_problem(r, 422)
    assert admin.run("SELECT count(*) FROM posts WHERE channel_id = :c", c=s["cid"]) == [[0]]
    ok = post(gateway_url, s, s["owner"])
    c = requests.post(
        api(gateway_url, s["cid"], f"/posts/{ok.json()['id']}/comments"),
        json={"body": "y" * 5_001},
        headers=s["owner"].headers,
        timeout=10,
    )
    assert_problem(c, 422)


def test_pagination_newest_first_pinned_first(gateway_url, school):
    s = school
    ids = [post(gateway_url, s, s["owner"], body=f"post {i}").json()["id"] for i in range(5)]
    pin = requests.put(
        api(gateway_url, s["cid"], f"/posts/{ids[1]}/pin"),
        json={"pinned": True},
        headers=s["owner"].headers,
        timeout=10,
    )
    assert pin.status_code == 200 and pin.json()["pinned"] is True
    seen, cursor = [], None
    while True:
        r = requests.get(
            api(gateway_url, s["cid"], f"/spaces/{s['space']}/posts"),
            params={"limit": 2, **({"cursor": cursor} if cursor else {})},
            headers=s["owner"].headers,
            timeout=10,
        )
        assert r.status_code == 200, r.text
        seen += [p["id"] for p in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    assert seen == [ids[1], ids[4], ids[3], ids[2], ids[0]]
    bad = requests.get(
        api(gateway_url, s["cid"], f"/spaces/{s['space']}/posts"),
        params={"cursor": "!!"},
        headers=s["owner"].headers,
        timeout=10,
    )
    assert_problem(bad, 422)


def test_comments_thread_one_level_and_reply_notifies(gateway_url, school):
    s = school
    alice = member_of(gateway_url, s["cid"], s["owner"], "student")
    bob = member_of(gateway_url, s["cid"], s["owner"], "student")
    pid = post(gateway_url, s, alice).json()["id"]

    def comment(user, body, parent=None):
        return requests.post(
            api(gateway_url, s["cid"], f"/posts/{pid}/comments"),
            json={"body": body, **({"parent_id": parent} if parent else {})},
            headers=user.headers,
            timeout=10,
        )

    top = comment(bob, "first").json()
    reply = comment(alice, "reply", top["id"]).json()
    deeper = comment(bob, "reply to reply", reply["id"])
    assert deeper.status_code == 201, deeper.text
    assert reply["parent_id"] == top["id"] and deeper.json()["parent_id"] == top["id"]
    assert_problem(comment(bob, "x", "00000000-0000-7000-8000-000000000000"), 422)

    got = requests.get(
        api(gateway_url, s["cid"], f"/posts/{pid}"), headers=alice.headers, timeout=10
    ).json()
    assert [c["id"] for c in got["comments"]] == [top["id"], reply["id"], deeper.json()["id"]]
    assert got["comment_count"] == 3

    mine = requests.get(
        f"{gateway_url}/v1/me/notifications", headers=alice.headers, timeout=10
    ).json()
    assert {n["kind"] for n in mine["items"]} == {"reply"} and mine["unread_count"] == 2
    bobs = requests.get(
        f"{gateway_url}/v1/me/notifications", headers=bob.headers, timeout=10
    ).json()
    assert [n["kind"] for n in bobs["items"]] == ["reply"]  # alice answered bob's comment


def test_mentions_notify_members_only(gateway_url, school):
    s = school
    alice = member_of(gateway_url, s["cid"], s["owner"], "student")
    outsider = signup(gateway_url)
    body = f"Hey @[Alice](#) @[Alice A]({alice.id}) and @[Who]({outsider.id})"
    p = post(gateway_url, s, s["owner"], body=body)
    assert p.status_code == 201 and "@Alice A" in p.json()["body_html"]
    notes = requests.get(
        f"{gateway_url}/v1/me/notifications", headers=alice.headers, timeout=10
    ).json()["items"]
    assert [n["kind"] for n in notes] == ["mention"]
    assert notes[0]["link"].endswith(p.json()["id"])
    other = requests.get(
        f"{gateway_url}/v1/me/notifications", headers=outsider.headers, timeout=10
    ).json()["items"]
    assert other == []


def test_reactions_one_per_member_and_kind(gateway_url, school, admin):
    s = school
    student = member_of(gateway_url, s["cid"], s["owner"], "student")
    pid = post(gateway_url, s, s["owner"]).json()["id"]
    url = api(gateway_url, s["cid"], f"/posts/{pid}/reactions")
    r = requests.post(url, json={"kind": "like"}, headers=student.headers, timeout=10)
    assert r.status_code == 201 and r.json()["counts"] == {"like": 1}
    assert_problem(
        requests.post(url, json={"kind": "like"}, headers=student.headers, timeout=10), 409
    )
    assert_problem(
        requests.post(url, json={"kind": "angry"}, headers=student.headers, timeout=10), 422
    )
    r2 = requests.post(url, json={"kind": "like"}, headers=s["owner"].headers, timeout=10)
    assert r2.json()["counts"] == {"like": 2}
    gone = requests.delete(url + "/like", headers=student.headers, timeout=10)
    assert gone.status_code == 204
    got = requests.get(
        api(gateway_url, s["cid"], f"/posts/{pid}"), headers=student.headers, timeout=10
    ).json()
    assert got["reactions"] == {"like": 1}
    versions = [e["version"] for e in outbox_events(admin, s["cid"], "reaction.created")]
    versions += [e["version"] for e in outbox_events(admin, s["cid"], "reaction.removed")]
    assert sorted(versions) == [1, 2, 3]


def test_edit_keeps_history_only_author_and_delete_is_soft(gateway_url, school, admin):
    s = school
    student = member_of(gateway_url, s["cid"], s["owner"], "student")
    other = member_of(gateway_url, s["cid"], s["owner"], "student")
    pid = post(gateway_url, s, student, body="v1").json()["id"]
    url = api(gateway_url, s["cid"], f"/posts/{pid}")
    assert_problem(requests.patch(url, json={"body": "x"}, headers=other.headers, timeout=10), 403)
    r = requests.patch(url, json={"body": "v2 *new*"}, headers=student.headers, timeout=10)
    assert r.status_code == 200 and r.json()["version"] == 2
    assert "<em>new</em>" in r.json()["body_html"]
    assert admin.run("SELECT body, version FROM post_revisions WHERE post_id = :p", p=pid) == [
        ["v1", 1]
    ]
    assert_problem(requests.delete(url, headers=other.headers, timeout=10), 403)
    assert requests.delete(url, headers=student.headers, timeout=10).status_code == 204
    assert_problem(requests.get(url, headers=student.headers, timeout=10), 404)
    assert admin.run("SELECT status FROM posts WHERE id = :p", p=pid) == [["deleted"]]
    (removed,) = outbox_events(admin, s["cid"], "post.removed")
    assert removed["reason"] == "deleted" and removed["version"] == 3


def test_course_and_batch_spaces_visible_to_their_students_only(gateway_url, school, admin):
    s = school
    owner = s["owner"]
    course = make_course(admin, s["cid"], owner.id, lessons=(("text", None),))
    batch = make_batch(admin, s["cid"], course["id"], None)
    cs = requests.post(
        api(gateway_url, s["cid"], "/spaces"),
        json={"name": "Course", "audience": {"course_id": course["id"]}},
        headers=owner.headers,
        timeout=10,
    )
    bs = requests.post(
        api(gateway_url, s["cid"], "/spaces"),
        json={"name": "Batch", "audience": {"batch_id": batch}},
        headers=owner.headers,
        timeout=10,
    )
    assert cs.status_code == 201 and bs.status_code == 201, (cs.text, bs.text)
    bad = requests.post(
        api(gateway_url, s["cid"], "/spaces"),
        json={"name": "X", "audience": {"course_id": s["space"]}},
        headers=owner.headers,
        timeout=10,
    )
    assert_problem(bad, 422)
    student = member_of(gateway_url, s["cid"], owner, "student")
    moderator = member_of(gateway_url, s["cid"], owner, "moderator")

    def names(user):
        r = requests.get(api(gateway_url, s["cid"], "/spaces"), headers=user.headers, timeout=10)
        return sorted(sp["name"] for sp in r.json()["items"])

    assert names(student) == ["General"]
    assert names(moderator) == ["Batch", "Course", "General"]
    assert_problem(post(gateway_url, s, student, space=cs.json()["id"]), 404)
    assert_problem(
        requests.post(
            api(gateway_url, s["cid"], "/spaces"),
            json={"name": "N"},
            headers=moderator.headers,
            timeout=10,
        ),
        403,
    )
    admin.run(
        "INSERT INTO enrollments (id, channel_id, course_id, user_id, batch_id, source)"
        " VALUES (gen_random_uuid(), :c, :co, :u, :b, 'staff')",
        c=s["cid"],
        co=course["id"],
        u=student.id,
        b=batch,
    )
    assert names(student) == ["Batch", "Course", "General"]
    assert post(gateway_url, s, student, space=bs.json()["id"]).status_code == 201


def test_spam_rules_blocked_words_and_new_member_links(gateway_url, school, admin):
    s = school
    student = member_of(gateway_url, s["cid"], s["owner"], "student")
    r = requests.put(
        api(gateway_url, s["cid"], "/community-settings"),
        json={"blocked_words": ["casino bonus"], "new_member_max_links": 1},
        headers=s["owner"].headers,
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["blocked_words"] == ["casino bonus"]
    assert_problem(post(gateway_url, s, student, body="Free CASINO bonus here"), 422)
    two_links = "see https://a.example and [b](https://b.example)"
    assert_problem(post(gateway_url, s, student, body=two_links), 422)
    assert post(gateway_url, s, s["owner"], body=two_links).status_code == 201  # staff trusted
    admin.run(
        "UPDATE memberships SET created_at = now() - interval '30 days'"
        " WHERE channel_id = :c AND user_id = :u",
        c=s["cid"],
        u=student.id,
    )
    assert post(gateway_url, s, student, body=two_links).status_code == 201


def test_rate_limit_on_posts(gateway_url, school):
    s = school
    student = member_of(gateway_url, s["cid"], s["owner"], "student")
    # 10 posts per fixed 10-minute window: 21 attempts span at most two windows, so at most
    # 20 land and one is refused even if a window boundary falls inside the test.
    answers = [post(gateway_url, s, student, body=f"p{i}") for i in range(21)]
    codes = [r.status_code for r in answers]
    assert codes[:10] == [201] * 10 and codes.count(201) <= 20
    refused = next(r for r in answers if r.status_code == 429)
    assert_problem(refused, 429)
    assert int(refused.headers["Retry-After"]) > 0
