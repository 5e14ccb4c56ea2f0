"""Each channel's own Zoom account over HTTP (issue 11 item 1), through the gateway and the
Zoom stand-in's OAuth dance: connect, status, scheduling under the channel's account (409
without one), the host's start link only to the class's instructor, owners and admins (fresh
from Zoom, never stored, never in the idempotency store), join for active students and staff,
and disconnect revoking at Zoom."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.helpers import assert_problem, make_channel, member_of, run_sql, signup
from tests.live_zoom_support import connect_zoom

START = "2031-03-01T09:00:00Z"


def api(gw, cid, suffix=""):
    return f"{gw}/v1/channels/{cid}{suffix}"


@pytest.fixture(scope="module")
def zoom(stack):
    return stack.env["ZOOM_STANDIN_URL"]


def accounts(zoom) -> dict[str, dict]:
    got = requests.get(f"{zoom}/_local/accounts", timeout=5).json()["accounts"]
    return {a["account_id"]: a for a in got}


def build(gw, *, connect=True):
    owner = signup(gw)
    cid = make_channel(gw, owner)["id"]
    w = {"cid": cid, "owner": owner}
    for role in ("admin", "instructor", "moderator"):
        w[role] = member_of(gw, cid, owner, role)
    w["instructor2"] = member_of(gw, cid, owner, "instructor")
    w["bystander"] = member_of(gw, cid, owner, "student")
    course = requests.post(
        api(gw, cid, "/courses"), json={"title": "Cohort"}, headers=owner.headers, timeout=10
    ).json()
    requests.post(
        api(gw, cid, f"/courses/{course['id']}/lessons"),
        json={"title": "Hi", "kind": "text", "body": "x"},
        headers=owner.headers,
        timeout=10,
    )
    r = requests.post(
        api(gw, cid, f"/courses/{course['id']}/publish"), headers=owner.headers, timeout=10
    )
    assert r.status_code == 200, r.text
    w["course"] = course["id"]
    w["batches"] = []
    for name in ("A", "B"):
        r = requests.post(
            api(gw, cid, f"/courses/{course['id']}/batches"),
            json={"name": name, "starts_at": "2031-01-01T00:00:00Z"},
            headers=owner.headers,
            timeout=10,
        )
        w["batches"].append(r.json()["id"])
    w["students"] = []
    for batch in w["batches"]:
        s = signup(gw)
        r = requests.post(
            api(gw, cid, f"/courses/{course['id']}/enroll"),
            json={"batch_id": batch},
            headers=s.headers,
            timeout=10,
        )
        assert r.status_code == 201, r.text
        w["students"].append(s)
    if connect:
        w["account_id"] = connect_zoom(gw, cid, owner)["account_id"]
    return w


@pytest.fixture(scope="module")
def world(gateway_url):
    return build(gateway_url)


@pytest.fixture(scope="module")
def rival(gateway_url):
    """Another channel, with its own Zoom account and instructor."""
    return build(gateway_url)


def schedule(gw, w, user=None, batch=None, **extra):
    return requests.post(
        api(gw, w["cid"], f"/batches/{batch or w['batches'][0]}/sessions"),
        json={"title": f"Live {uuid.uuid4().hex[:8]}", "starts_at": START, "duration_minutes": 60},
        headers={**(user or w["instructor"]).headers, **extra},
        timeout=20,
    )


def session_url(gw, w, sid, suffix="", batch=None):
    return api(gw, w["cid"], f"/batches/{batch or w['batches'][0]}/sessions/{sid}{suffix}")


def test_connecting_stores_the_account_and_shows_it_to_staff(gateway_url, world, zoom, admin_db):
    gw, cid = gateway_url, world["cid"]
    got = requests.get(api(gw, cid, "/integrations/zoom"), headers=world["moderator"].headers)
    assert got.status_code == 200
    assert got.json()["connected"] is True and got.json()["account_id"] == world["account_id"]
    assert got.json()["connected_at"]
    assert world["account_id"] in accounts(zoom)
    # students see nothing of it; other channels' users do not know the channel
    assert_problem(
        requests.get(api(gw, cid, "/integrations/zoom"), headers=world["bystander"].headers),
        403,
    )
    outsider = signup(gw)
    assert_problem(requests.get(api(gw, cid, "/integrations/zoom"), headers=outsider.headers), 404)
    # tokens are sealed at rest: nothing in the row reads like a token
    [row] = run_sql(
        admin_db,
        "SELECT account_id, access_token_enc, refresh_token_enc, key_id FROM"
        " channel_zoom_accounts WHERE channel_id = :c",
        c=cid,
    )
    assert row[0] == world["account_id"] and row[3] == "local-1"
    assert b"local." not in bytes(row[1]) and b"local-r." not in bytes(row[2])


@pytest.mark.parametrize("who", ["instructor", "moderator", "bystander"])
def test_only_owners_and_admins_connect(gateway_url, world, who):
    r = requests.post(
        api(gateway_url, world["cid"], "/integrations/zoom"), headers=world[who].headers
    )
    assert_problem(r, 403)
    r = requests.delete(
        api(gateway_url, world["cid"], "/integrations/zoom"), headers=world[who].headers
    )
    assert_problem(r, 403)


def test_the_callback_refuses_bad_reused_and_forged_states(gateway_url, world):
    gw = gateway_url
    link = requests.post(
        api(gw, world["cid"], "/integrations/zoom"), headers=world["admin"].headers
    ).json()["url"]
    same = {"account_id": world["account_id"]}  # re-approve as the same Zoom account
    first = requests.post(link, data=same, allow_redirects=False, timeout=10)
    assert first.status_code == 302
    callback = first.headers["Location"]
    assert callback.startswith(f"{gw}/v1/integrations/zoom/callback?")
    assert requests.get(callback, timeout=10).status_code == 200
    # the same state again (a replayed redirect): refused, nothing changes
    again = requests.post(link, data=same, allow_redirects=False, timeout=10).headers["Location"]
    assert_problem(requests.get(again, timeout=10), 400)
    # a forged or mangled state
    for state in ("x", "a.b", callback.split("state=")[1][:-3] + "abc"):
        bad = f"{gw}/v1/integrations/zoom/callback?code=c&state={state}"
        assert_problem(requests.get(bad, timeout=10), 400)
    # the owner declined at Zoom
    link = requests.post(
        api(gw, world["cid"], "/integrations/zoom"), headers=world["admin"].headers
    ).json()["url"]
    state = requests.utils.unquote(link.split("state=")[1].split("&")[0])
    declined = requests.get(
        f"{gw}/v1/integrations/zoom/callback",
        params={"error": "access_denied", "state": state},
        timeout=10,
    )
    assert_problem(declined, 400)


def test_scheduling_without_a_connected_account_is_409(gateway_url, admin_db):
    w = build(gateway_url, connect=False)
    r = schedule(gateway_url, w)
    assert_problem(r, 409)
    assert "connect" in r.json()["detail"].lower() and "zoom" in r.json()["detail"].lower()
    assert (
        run_sql(admin_db, "SELECT count(*) FROM live_sessions WHERE channel_id = :c", c=w["cid"])[
            0
        ][0]
        == 0
    )


def test_meetings_live_under_the_channels_own_account(gateway_url, world, rival, zoom):
    mine = schedule(gateway_url, world)
    theirs = schedule(gateway_url, rival)
    assert mine.status_code == 201 and theirs.status_code == 201
    got = requests.get(
        session_url(gateway_url, world, mine.json()["id"]), headers=world["owner"].headers
    ).json()
    assert got["provider_account_id"] == world["account_id"]
    assert got["provider_account_id"] != rival["account_id"]
    meetings = requests.get(f"{zoom}/_local/meetings", timeout=5).json()["meetings"]
    by_id = {str(m["id"]): m for m in meetings}
    assert by_id[got["provider_meeting_id"]]["account_id"] == world["account_id"]


def test_the_start_link_goes_only_to_the_instructor_owner_and_admin(
    gateway_url, world, rival, admin_db
):
    gw = gateway_url
    created = schedule(gw, world)
    sid = created.json()["id"]
    start = session_url(gw, world, sid, "/start")
    links = []
    for who in ("instructor", "owner", "admin"):
        r = requests.post(start, headers=world[who].headers, timeout=10)
        assert r.status_code == 200, (who, r.text)
        assert "zak=" in r.json()["start_url"]
        links.append(r.json()["start_url"])
    assert len(set(links)) == 3  # fresh from Zoom each time
    for who in ("instructor2", "moderator"):  # staff of the channel, not this class's host
        assert_problem(requests.post(start, headers=world[who].headers, timeout=10), 403)
    for user in (world["students"][0], world["bystander"]):
        r = requests.post(start, headers=user.headers, timeout=10)
        assert r.status_code in (403, 404)
        assert "zak=" not in r.text
    # another channel's instructor: the session does not exist for them
    assert_problem(requests.post(start, headers=rival["instructor"].headers, timeout=10), 404)
    assert_problem(requests.post(start, timeout=10), 401)
    # never stored: not in the session table, the idempotency store, audit or outbox
    conn = admin_db()
    cols = conn.run(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'live_sessions'"
    )
    assert "start_url" not in {c[0] for c in cols}
    for link in links:
        zak = link.split("zak=")[1]
        for table in ("audit_log", "outbox", "live_sessions"):
            found = conn.run(f"SELECT count(*) FROM {table} t WHERE t::text LIKE :z", z=f"%{zak}%")
            assert found[0][0] == 0, table
        stored = conn.run(
            "SELECT count(*) FROM idempotency_keys"
            " WHERE convert_from(coalesce(response, ''::bytea), 'UTF8') LIKE :z",
            z=f"%{zak}%",
        )
        assert stored[0][0] == 0


def test_a_start_link_with_an_idempotency_key_is_not_replayed(gateway_url, world, admin_db):
    gw = gateway_url
    sid = schedule(gw, world).json()["id"]
    key = {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    one = requests.post(
        session_url(gw, world, sid, "/start"), headers={**world["owner"].headers, **key}
    )
    two = requests.post(
        session_url(gw, world, sid, "/start"), headers={**world["owner"].headers, **key}
    )
    assert one.status_code == two.status_code == 200
    assert one.json()["start_url"] != two.json()["start_url"]  # not a stored replay
    assert (
        run_sql(
            admin_db,
            "SELECT count(*) FROM idempotency_keys WHERE idem_key = :k",
            k=key["Idempotency-Key"],
        )[0][0]
        == 0
    )


def test_join_is_for_active_students_of_the_batch_and_staff(gateway_url, world, rival, admin_db):
    gw = gateway_url
    created = schedule(gw, world).json()
    join = session_url(gw, world, created["id"], "/join")
    for user in (world["students"][0], world["moderator"], world["owner"]):
        r = requests.post(join, headers=user.headers, timeout=10)
        assert r.status_code == 200, r.text
        assert r.json() == {"join_url": created["join_url"]}
    requests.post(join, headers=world["students"][0].headers, timeout=10)
    for user in (world["students"][1], world["bystander"]):  # another batch; no batch
        r = requests.post(join, headers=user.headers, timeout=10)
        assert_problem(r, 403)
        assert created["join_url"] not in r.text
    assert_problem(requests.post(join, headers=rival["students"][0].headers, timeout=10), 404)
    rows = run_sql(
        admin_db,
        "SELECT user_id::text, requests FROM live_session_join_requests WHERE session_id = :s",
        s=created["id"],
    )
    got = dict(rows)
    assert got[world["students"][0].id] == 2  # the intent, counted
    assert world["students"][1].id not in got and world["bystander"].id not in got


def test_a_session_answer_shows_provider_ids_to_staff_only(gateway_url, world):
    gw = gateway_url
    created = schedule(gw, world).json()
    url = session_url(gw, world, created["id"])
    staff = requests.get(url, headers=world["moderator"].headers).json()
    student = requests.get(url, headers=world["students"][0].headers).json()
    assert staff["provider_meeting_id"] and staff["provider_account_id"] == world["account_id"]
    assert student["provider_meeting_id"] is None and student["provider_account_id"] is None
    assert student["join_url"] == created["join_url"]
    assert staff["recording_lesson_id"] is None
    assert "start_url" not in staff and "start_url" not in student


def test_disconnect_revokes_at_zoom_and_erases_the_tokens(gateway_url, zoom, admin_db):
    gw = gateway_url
    w = build(gw)
    sid = schedule(gw, w).json()["id"]
    assert accounts(zoom)[w["account_id"]]["live_grants"] == 1
    r = requests.delete(api(gw, w["cid"], "/integrations/zoom"), headers=w["admin"].headers)
    assert r.status_code == 204
    assert accounts(zoom)[w["account_id"]]["live_grants"] == 0  # revoked at Zoom
    assert (
        run_sql(
            admin_db, "SELECT count(*) FROM channel_zoom_accounts WHERE channel_id = :c", c=w["cid"]
        )[0][0]
        == 0
    )
    status = requests.get(api(gw, w["cid"], "/integrations/zoom"), headers=w["owner"].headers)
    assert status.json() == {"connected": False, "account_id": None, "connected_at": None}
    again = requests.delete(api(gw, w["cid"], "/integrations/zoom"), headers=w["owner"].headers)
    assert again.status_code == 204
    assert_problem(schedule(gw, w), 409)
    assert_problem(
        requests.post(session_url(gw, w, sid, "/start"), headers=w["owner"].headers), 409
    )
    # cancelling still works: the class is cancelled here, the meeting is the account's
    cancel = requests.delete(session_url(gw, w, sid), headers=w["owner"].headers)
    assert cancel.status_code == 204
    # connecting the same Zoom account again makes its classes reachable again
    connect_zoom(gw, w["cid"], w["owner"], account_id=w["account_id"])
    assert schedule(gw, w).status_code == 201
