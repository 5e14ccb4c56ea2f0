"""Courses, lessons, batches and resources over HTTP through the gateway."""

import uuid

import pytest
import requests

from tests.helpers import assert_problem, make_channel, member_of, signup

ROLES = ("owner", "admin", "instructor", "moderator", "student")


def api(gw, cid, suffix=""):
    return f"{gw}/v1/channels/{cid}{suffix}"


@pytest.fixture(scope="module")
def world(gateway_url):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    users = {"owner": owner}
    for role in ROLES[1:]:
        users[role] = member_of(gateway_url, ch["id"], owner, role)
    stranger_owner = signup(gateway_url)
    other = make_channel(gateway_url, stranger_owner)
    return {"ch": ch, "users": users, "stranger": stranger_owner, "other": other}


def new_course(gw, cid, user, **fields):
    r = requests.post(
        api(gw, cid, "/courses"),
        json={"title": "A course", **fields},
        headers=user.headers,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return r.json()


def add_lesson(gw, cid, course_id, user, kind="text", title="L", body="Lesson text"):
    r = requests.post(
        api(gw, cid, f"/courses/{course_id}/lessons"),
        headers=user.headers,
        json={"title": title, "kind": kind, "body": body},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return r.json()


def publish(gw, cid, course_id, user):
    return requests.post(
        api(gw, cid, f"/courses/{course_id}/publish"), headers=user.headers, timeout=10
    )


def test_instructors_and_above_write_courses_others_cannot(gateway_url, world):
    cid = world["ch"]["id"]
    for role, user in world["users"].items():
        r = requests.post(
            api(gateway_url, cid, "/courses"),
            json={"title": f"By {role}"},
            headers=user.headers,
            timeout=10,
        )
        if role in ("owner", "admin", "instructor"):
            assert r.status_code == 201, (role, r.text)
            body = r.json()
            assert body["status"] == "draft" and body["title"] == f"By {role}"
            assert body["price"] is None and body["channel_id"] == cid
        else:
            assert_problem(r, 403)
    # and the forbidden attempts wrote nothing
    staff_list = requests.get(
        api(gateway_url, cid, "/courses?limit=100"),
        headers=world["users"]["owner"].headers,
        timeout=10,
    ).json()
    titles = {c["title"] for c in staff_list["items"]}
    assert {"By moderator", "By student"}.isdisjoint(titles)
    assert {"By owner", "By admin", "By instructor"} <= titles


def test_drafts_are_staff_only_published_courses_are_public(gateway_url, world):
    cid, users = world["ch"]["id"], world["users"]
    draft = new_course(gateway_url, cid, users["instructor"], title="Secret draft")
    live = new_course(gateway_url, cid, users["instructor"], title="Open course")
    add_lesson(gateway_url, cid, live["id"], users["instructor"], body="Members-only text")
    assert publish(gateway_url, cid, live["id"], users["instructor"]).status_code == 200

    viewers = {
        "student": users["student"].headers,
        "public": {},
        "stranger": world["stranger"].headers,
    }
    for who, headers in viewers.items():
        listed = requests.get(
            api(gateway_url, cid, "/courses?limit=100"), headers=headers, timeout=10
        )
        assert listed.status_code == 200, (who, listed.text)
        ids = {c["id"] for c in listed.json()["items"]}
        assert live["id"] in ids and draft["id"] not in ids, who
        assert all(c["status"] == "published" for c in listed.json()["items"])
        assert_problem(
            requests.get(
                api(gateway_url, cid, f"/courses/{draft['id']}"), headers=headers, timeout=10
            ),
            404,
        )
        page = requests.get(
            api(gateway_url, cid, f"/courses/{live['id']}"), headers=headers, timeout=10
        ).json()
        # lesson titles are public; their content is for staff and enrolled students
        assert [lesson["body"] for lesson in page["lessons"]] == [None], who
    for role in ("moderator", "instructor"):
        seen = requests.get(
            api(gateway_url, cid, f"/courses/{draft['id']}"),
            headers=users[role].headers,
            timeout=10,
        )
        assert seen.status_code == 200 and seen.json()["status"] == "draft"
    staff_view = requests.get(
        api(gateway_url, cid, f"/courses/{live['id']}"),
        headers=users["moderator"].headers,
        timeout=10,
    ).json()
    assert staff_view["lessons"][0]["body"] == "Members-only text"
    # a student filtering for drafts still only gets published courses
    r = requests.get(
        api(gateway_url, cid, "/courses?status=draft"), headers=users["student"].headers, timeout=10
    )
    assert all(c["status"] == "published" for c in r.json()["items"])


def test_another_channels_member_gets_404_on_everything_of_ours(gateway_url, world):
    cid, users = world["ch"]["id"], world["users"]
    course = new_course(gateway_url, cid, users["owner"], title="Ours")
    lesson = add_lesson(gateway_url, cid, course["id"], users["owner"])
    batch = requests.post(
        api(gateway_url, cid, f"/courses/{course['id']}/batches"),
        json={"name": "B1", "starts_at": "2031-01-01T10:00:00Z"},
        headers=users["owner"].headers,
        timeout=10,
    ).json()
    c = f"/courses/{course['id']}"
    attempts = [
        ("post", "/courses", {"title": "Intruder"}),
        ("get", c, None),
        ("patch", c, {"title": "Hijacked"}),
        ("post", c + "/publish", None),
        ("post", c + "/lessons", {"title": "x", "kind": "text"}),
        ("patch", c + f"/lessons/{lesson['id']}", {"title": "Hijacked"}),
        ("delete", c + f"/lessons/{lesson['id']}", None),
        ("post", c + "/lessons/order", {"lesson_ids": [lesson["id"]]}),
        ("post", c + "/batches", {"name": "x", "starts_at": "2031-01-01T00:00:00Z"}),
        ("get", c + "/batches", None),
        ("get", f"/batches/{batch['id']}", None),
        ("patch", f"/batches/{batch['id']}", {"capacity": 1}),
        ("post", c + "/resources", {"title": "x", "upload_id": str(uuid.uuid4())}),
        ("get", c + "/resources", None),
        ("delete", f"/resources/{uuid.uuid4()}", None),
    ]
    outsider = world["stranger"]  # owner of another channel
    for method, suffix, body in attempts:
        r = requests.request(
            method, api(gateway_url, cid, suffix), json=body, headers=outsider.headers, timeout=10
        )
        assert_problem(r, 404)
    after = requests.get(
        api(gateway_url, cid, c), headers=users["owner"].headers, timeout=10
    ).json()
    assert after["title"] == "Ours" and after["status"] == "draft"
    assert [x["title"] for x in after["lessons"]] == [lesson["title"]]


def test_course_ids_of_another_channel_are_404_even_for_our_owner(gateway_url, world):
    """The URL's channel decides the tenant: a course id of channel B under channel A is 404."""
    theirs = new_course(gateway_url, world["other"]["id"], world["stranger"], title="Theirs")
    me = world["users"]["owner"]
    for method, suffix in (("get", ""), ("patch", ""), ("post", "/publish")):
        r = requests.request(
            method,
            api(gateway_url, world["ch"]["id"], f"/courses/{theirs['id']}{suffix}"),
            json={} if method == "patch" else None,
            headers=me.headers,
            timeout=10,
        )
        assert_problem(r, 404)
    for bad in ("not-a-uuid", str(uuid.uuid4())):
        assert_problem(
            requests.get(
                api(gateway_url, world["ch"]["id"], f"/courses/{bad}"),
                headers=me.headers,
                timeout=10,
            ),
            404,
        )


def test_publish_waits_for_video_then_succeeds_and_is_idempotent(gateway_url, world):
    cid, instructor = world["ch"]["id"], world["users"]["instructor"]
    course = new_course(gateway_url, cid, instructor)
    add_lesson(gateway_url, cid, course["id"], instructor, kind="text")
    video = add_lesson(
        gateway_url, cid, course["id"], instructor, kind="video", title="Vid", body=""
    )
    assert video["status"] == "pending_media" and video["position"] == 2

    r = publish(gateway_url, cid, course["id"], instructor)
    body = assert_problem(r, 409)
    assert "video" in body["detail"]
    assert body["reasons"][0]["code"] == "video_not_ready"
    assert body["reasons"][0]["lesson_ids"] == [video["id"]]

    deleted = requests.delete(
        api(gateway_url, cid, f"/courses/{course['id']}/lessons/{video['id']}"),
        headers=instructor.headers,
        timeout=10,
    )
    assert deleted.status_code == 204
    first = publish(gateway_url, cid, course["id"], instructor)
    assert first.status_code == 200 and first.json()["status"] == "published"
    again = publish(gateway_url, cid, course["id"], instructor)
    assert again.status_code == 200
    assert again.json()["published_at"] == first.json()["published_at"]
    assert_problem(publish(gateway_url, cid, course["id"], world["users"]["student"]), 403)


def test_priced_course_needs_a_channel_that_can_take_payments(gateway_url, admin_db):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    course = new_course(gateway_url, ch["id"], owner, price={"amount": 4900, "currency": "USD"})
    assert course["price"] == {"amount": 4900, "currency": "usd"}

    body = assert_problem(publish(gateway_url, ch["id"], course["id"], owner), 409)
    assert [r["code"] for r in body["reasons"]] == ["payments_not_enabled"]

    conn = admin_db(role="superuser")
    conn.run("UPDATE channels SET charges_enabled = true WHERE id = :c", c=ch["id"])
    r = publish(gateway_url, ch["id"], course["id"], owner)
    assert r.status_code == 200 and r.json()["status"] == "published"


def test_free_plan_limits_published_courses(gateway_url):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    courses = [new_course(gateway_url, ch["id"], owner, title=f"C{i}") for i in range(4)]
    for c in courses[:3]:
        assert publish(gateway_url, ch["id"], c["id"], owner).status_code == 200
    body = assert_problem(publish(gateway_url, ch["id"], courses[3]["id"], owner), 409)
    assert "plan" in body["detail"]
    r = requests.get(
        api(gateway_url, ch["id"], f"/courses/{courses[3]['id']}"),
        headers=owner.headers,
        timeout=10,
    )
    assert r.json()["status"] == "draft"


def test_patch_edits_fields_and_refuses_mass_assignment(gateway_url, world):
    cid, instructor = world["ch"]["id"], world["users"]["instructor"]
    course = new_course(gateway_url, cid, instructor, price={"amount": 1000, "currency": "eur"})
    url = api(gateway_url, cid, f"/courses/{course['id']}")
    for body in (
        {"status": "published"},
        {"channel_id": str(uuid.uuid4())},
        {"title": None},
        {"title": ""},
        {"price": {"amount": -5, "currency": "usd"}},
        {"price": {"amount": 5, "currency": "dollars"}},
        {"price": {"amount": 500, "currency": "xts"}},  # ISO's test code: no payments in it
    ):
        assert_problem(requests.patch(url, json=body, headers=instructor.headers, timeout=10), 422)
    r = requests.patch(
        url, json={"title": "Renamed", "price": None}, headers=instructor.headers, timeout=10
    )
    assert r.status_code == 200
    assert r.json()["title"] == "Renamed" and r.json()["price"] is None
    assert r.json()["status"] == "draft"
    assert_problem(
        requests.patch(
            url, json={"title": "Nope"}, headers=world["users"]["moderator"].headers, timeout=10
        ),
        403,
    )


def test_lessons_are_ordered_reordered_and_renumbered(gateway_url, world):
    cid, instructor = world["ch"]["id"], world["users"]["instructor"]
    course = new_course(gateway_url, cid, instructor)
    lessons = [
        add_lesson(gateway_url, cid, course["id"], instructor, title=f"L{i}") for i in range(1, 5)
    ]
    assert [lesson["position"] for lesson in lessons] == [1, 2, 3, 4]
    ids = [lesson["id"] for lesson in lessons]
    order_url = api(gateway_url, cid, f"/courses/{course['id']}/lessons/order")

    for bad in (ids[:3], [*ids, ids[0]], [*ids[:3], str(uuid.uuid4())]):
        assert_problem(
            requests.post(
                order_url, json={"lesson_ids": bad}, headers=instructor.headers, timeout=10
            ),
            422,
        )
    new_order = [ids[3], ids[1], ids[0], ids[2]]
    r = requests.post(
        order_url, json={"lesson_ids": new_order}, headers=instructor.headers, timeout=10
    )
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()["items"]] == new_order

    requests.delete(
        api(gateway_url, cid, f"/courses/{course['id']}/lessons/{ids[1]}"),
        headers=instructor.headers,
        timeout=10,
    ).raise_for_status()
    got = requests.get(
        api(gateway_url, cid, f"/courses/{course['id']}"), headers=instructor.headers, timeout=10
    ).json()["lessons"]
    assert [(x["id"], x["position"]) for x in got] == [(ids[3], 1), (ids[0], 2), (ids[2], 3)]
    assert_problem(
        requests.delete(
            api(gateway_url, cid, f"/courses/{course['id']}/lessons/{ids[1]}"),
            headers=instructor.headers,
            timeout=10,
        ),
        404,
    )

    patched = requests.patch(
        api(gateway_url, cid, f"/courses/{course['id']}/lessons/{ids[0]}"),
        json={"title": "First steps", "body": "New text"},
        headers=instructor.headers,
        timeout=10,
    )
    assert patched.status_code == 200 and patched.json()["title"] == "First steps"
    assert_problem(
        requests.post(
            api(gateway_url, cid, f"/courses/{course['id']}/lessons"),
            json={"title": "x", "kind": "podcast"},
            headers=instructor.headers,
            timeout=10,
        ),
        422,
    )


def test_batches_have_dates_and_capacity(gateway_url, world, admin_db):
    cid, instructor = world["ch"]["id"], world["users"]["instructor"]
    course = new_course(gateway_url, cid, instructor)
    url = api(gateway_url, cid, f"/courses/{course['id']}/batches")
    for bad in (
        {"name": "x", "starts_at": "2031-02-01T00:00:00Z", "ends_at": "2031-01-01T00:00:00Z"},
        {"name": "x", "starts_at": "2031-02-01T00:00:00"},  # no time zone
        {"name": "x", "starts_at": "2031-02-01T00:00:00Z", "capacity": 0},
    ):
        assert_problem(requests.post(url, json=bad, headers=instructor.headers, timeout=10), 422)
    assert_problem(
        requests.post(
            url,
            json={"name": "x", "starts_at": "2031-02-01T00:00:00Z"},
            headers=world["users"]["student"].headers,
            timeout=10,
        ),
        403,
    )

    r = requests.post(
        url,
        json={
            "name": "Spring",
            "starts_at": "2031-03-01T09:00:00+02:00",
            "ends_at": "2031-04-01T09:00:00Z",
            "capacity": 2,
        },
        headers=instructor.headers,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    batch = r.json()
    assert batch["starts_at"] == "2031-03-01T07:00:00Z"
    assert batch["capacity"] == 2 and batch["seats_taken"] == 0
    assert [
        b["id"] for b in requests.get(url, headers=instructor.headers, timeout=10).json()["items"]
    ] == [batch["id"]]

    conn = admin_db(role="superuser")
    conn.run("UPDATE batches SET seats_taken = 2 WHERE id = :b", b=batch["id"])
    burl = api(gateway_url, cid, f"/batches/{batch['id']}")
    assert_problem(
        requests.patch(burl, json={"capacity": 1}, headers=instructor.headers, timeout=10), 409
    )
    r = requests.patch(
        burl, json={"capacity": 5, "name": "Spring cohort"}, headers=instructor.headers, timeout=10
    )
    assert r.status_code == 200 and r.json()["capacity"] == 5
    assert (
        requests.get(burl, headers=instructor.headers, timeout=10).json()["name"] == "Spring cohort"
    )
    # a draft course's batches are not visible to students
    assert_problem(requests.get(burl, headers=world["users"]["student"].headers, timeout=10), 404)


def test_create_course_is_idempotent_with_a_key(gateway_url, world):
    cid, instructor = world["ch"]["id"], world["users"]["instructor"]
    headers = {**instructor.headers, "Idempotency-Key": uuid.uuid4().hex}
    url = api(gateway_url, cid, "/courses")
    first = requests.post(url, json={"title": "Once"}, headers=headers, timeout=10)
    second = requests.post(url, json={"title": "Once"}, headers=headers, timeout=10)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert_problem(requests.post(url, json={"title": "Other"}, headers=headers, timeout=10), 409)


def test_writes_are_audited(gateway_url, world):
    cid, owner = world["ch"]["id"], world["users"]["owner"]
    course = new_course(gateway_url, cid, owner, title="Audited")
    add_lesson(gateway_url, cid, course["id"], owner)
    requests.patch(
        api(gateway_url, cid, f"/courses/{course['id']}"),
        json={"title": "Audit 2"},
        headers=owner.headers,
        timeout=10,
    ).raise_for_status()
    log = requests.get(
        api(gateway_url, cid, "/audit-log?limit=100"), headers=owner.headers, timeout=10
    ).json()["items"]
    mine = [e["action"] for e in log if e.get("target_id") == course["id"]]
    assert {"course.created", "course.updated"} <= set(mine)


def test_reordering_a_course_without_lessons_is_a_no_op_not_a_500(gateway_url, world):
    # found by schemathesis: an empty lesson_ids list reached the database as an untyped array
    cid, user = world["ch"]["id"], world["users"]["instructor"]
    course = new_course(gateway_url, cid, user)
    r = requests.post(
        api(gateway_url, cid, f"/courses/{course['id']}/lessons/order"),
        json={"lesson_ids": []},
        headers=user.headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"items": [], "next_cursor": None}
