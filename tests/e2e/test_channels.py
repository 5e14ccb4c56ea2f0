"""Channels, members and roles over HTTP."""

import time

import pyotp
import requests

from tests.helpers import (
    PASSWORD,
    add_member,
    assert_problem,
    make_channel,
    member_of,
    signup,
    unique,
)


def url(gw, cid, suffix=""):
    return f"{gw}/v1/channels/{cid}{suffix}"


def test_creator_becomes_owner_and_slug_is_unique(gateway_url):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner, theme={"primary": "#4f46e5", "font": "Inter"})
    assert ch["theme"] == {"primary": "#4f46e5", "font": "Inter"}
    me = requests.get(f"{gateway_url}/v1/me", headers=owner.headers, timeout=10).json()
    assert {"channel_id": ch["id"], "role": "owner"} in me["memberships"]
    r = requests.post(
        f"{gateway_url}/v1/channels",
        headers=signup(gateway_url).headers,
        json={"slug": ch["slug"], "name": "Copy"},
        timeout=10,
    )
    assert_problem(r, 409)


def test_theme_tokens_are_validated(gateway_url):
    owner = signup(gateway_url)
    for theme in (
        {"primary": "red"},
        {"unknown": "#fff"},
        {"logo_url": "http://x.test/a.png"},
        {"font": "Inter; } body { display:none"},
    ):
        r = requests.post(
            f"{gateway_url}/v1/channels",
            headers=owner.headers,
            timeout=10,
            json={"slug": unique("th"), "name": "T", "theme": theme},
        )
        assert_problem(r, 422)
    me = requests.get(f"{gateway_url}/v1/me", headers=owner.headers, timeout=10).json()
    assert me["memberships"] == []  # nothing was written


def test_patch_is_owner_or_admin_only_and_cannot_mass_assign(gateway_url):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    admin = member_of(gateway_url, ch["id"], owner, "admin")
    instructor = member_of(gateway_url, ch["id"], owner, "instructor")
    r = requests.patch(
        url(gateway_url, ch["id"]), json={"name": "Renamed"}, headers=admin.headers, timeout=10
    )
    assert r.status_code == 200 and r.json()["name"] == "Renamed"
    assert_problem(
        requests.patch(
            url(gateway_url, ch["id"]), json={"name": "No"}, headers=instructor.headers, timeout=10
        ),
        403,
    )
    for field in (
        {"slug": "new-slug"},
        {"id": ch["id"]},
        {"role": "owner"},
        {"stripe_account_id": "acct_1"},
    ):
        assert_problem(
            requests.patch(
                url(gateway_url, ch["id"]), json=field, headers=owner.headers, timeout=10
            ),
            422,
        )
    got = requests.get(url(gateway_url, ch["id"]), headers=owner.headers, timeout=10).json()
    assert got["name"] == "Renamed" and got["slug"] == ch["slug"]


def test_members_lifecycle_and_role_rules(gateway_url):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    admin = member_of(gateway_url, ch["id"], owner, "admin")
    student = member_of(gateway_url, ch["id"], owner, "student")
    members = requests.get(
        url(gateway_url, ch["id"], "/members"), headers=admin.headers, timeout=10
    ).json()
    assert {m["user_id"]: m["role"] for m in members["items"]} == {
        owner.id: "owner",
        admin.id: "admin",
        student.id: "student",
    }
    assert_problem(
        requests.get(url(gateway_url, ch["id"], "/members"), headers=student.headers, timeout=10),
        403,
    )
    # admin may promote a student to instructor, but not to admin, and not touch the owner
    r = requests.patch(
        url(gateway_url, ch["id"], f"/members/{student.id}"),
        json={"role": "instructor"},
        headers=admin.headers,
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["role"] == "instructor"
    assert_problem(
        requests.patch(
            url(gateway_url, ch["id"], f"/members/{student.id}"),
            json={"role": "admin"},
            headers=admin.headers,
            timeout=10,
        ),
        403,
    )
    assert_problem(
        requests.delete(
            url(gateway_url, ch["id"], f"/members/{owner.id}"), headers=admin.headers, timeout=10
        ),
        403,
    )
    # duplicate add, unknown email, bad role
    newcomer = signup(gateway_url)
    add_member(gateway_url, ch["id"], owner, newcomer, "student")
    assert_problem(
        requests.post(
            url(gateway_url, ch["id"], "/members"),
            headers=owner.headers,
            json={"email": newcomer.email, "role": "student"},
            timeout=10,
        ),
        409,
    )
    assert_problem(
        requests.post(
            url(gateway_url, ch["id"], "/members"),
            headers=owner.headers,
            json={"email": f"{unique()}@example.com", "role": "student"},
            timeout=10,
        ),
        404,
    )
    assert_problem(
        requests.post(
            url(gateway_url, ch["id"], "/members"),
            headers=owner.headers,
            json={"email": newcomer.email, "role": "king"},
            timeout=10,
        ),
        422,
    )
    r = requests.delete(
        url(gateway_url, ch["id"], f"/members/{newcomer.id}"), headers=owner.headers, timeout=10
    )
    assert r.status_code == 204


def test_last_owner_cannot_leave_or_be_demoted(gateway_url):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    assert_problem(
        requests.patch(
            url(gateway_url, ch["id"], f"/members/{owner.id}"),
            json={"role": "admin"},
            headers=owner.headers,
            timeout=10,
        ),
        409,
    )
    assert_problem(
        requests.delete(
            url(gateway_url, ch["id"], f"/members/{owner.id}"), headers=owner.headers, timeout=10
        ),
        409,
    )
    second = member_of(gateway_url, ch["id"], owner, "owner")
    r = requests.patch(
        url(gateway_url, ch["id"], f"/members/{owner.id}"),
        json={"role": "admin"},
        headers=second.headers,
        timeout=10,
    )
    assert r.status_code == 200


def test_membership_changes_are_audited_with_actor_and_request_id(gateway_url):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    student = signup(gateway_url)
    r = requests.post(
        url(gateway_url, ch["id"], "/members"),
        timeout=10,
        json={"email": student.email, "role": "student"},
        headers={**owner.headers, "X-Request-Id": "audit-req-1"},
    )
    assert r.status_code == 201
    requests.patch(
        url(gateway_url, ch["id"], f"/members/{student.id}"),
        timeout=10,
        json={"role": "moderator"},
        headers=owner.headers,
    )
    log = requests.get(
        url(gateway_url, ch["id"], "/audit-log"), headers=owner.headers, timeout=10
    ).json()["items"]
    actions = [(e["action"], e["target_id"]) for e in log]
    assert ("member.role_changed", student.id) in actions
    added = next(e for e in log if e["action"] == "member.added" and e["target_id"] == student.id)
    assert added["actor_user_id"] == owner.id and added["request_id"] == "audit-req-1"
    assert [e["seq"] for e in log] == sorted((e["seq"] for e in log), reverse=True)
    assert_problem(
        requests.get(url(gateway_url, ch["id"], "/audit-log"), headers=student.headers, timeout=10),
        403,
    )


def test_idempotency_key_replays_and_conflicts(gateway_url):
    owner = signup(gateway_url)
    body = {"slug": unique("idem"), "name": "Once"}
    h = {**owner.headers, "Idempotency-Key": unique("key")}
    a = requests.post(f"{gateway_url}/v1/channels", json=body, headers=h, timeout=10)
    b = requests.post(f"{gateway_url}/v1/channels", json=body, headers=h, timeout=10)
    assert a.status_code == b.status_code == 201 and a.json() == b.json()
    assert b.headers.get("Idempotent-Replayed") == "true"
    assert_problem(
        requests.post(
            f"{gateway_url}/v1/channels", headers=h, timeout=10, json={**body, "name": "Different"}
        ),
        409,
    )
    me = requests.get(f"{gateway_url}/v1/me", headers=owner.headers, timeout=10).json()
    assert len(me["memberships"]) == 1


def test_denied_access_is_audited_in_the_channel(gateway_url):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    student = member_of(gateway_url, ch["id"], owner, "student")
    r = requests.patch(
        url(gateway_url, ch["id"]), json={"name": "Mine now"}, headers=student.headers, timeout=10
    )
    assert_problem(r, 403)
    log = requests.get(
        url(gateway_url, ch["id"], "/audit-log"), headers=owner.headers, timeout=10
    ).json()["items"]
    denied = [e for e in log if e["action"] == "access.denied"]
    assert len(denied) == 1 and denied[0]["actor_user_id"] == student.id
    assert denied[0]["target_id"] == f"PATCH /v1/channels/{ch['id']}"


def bearer(session: dict) -> dict:
    return {"Authorization": f"Bearer {session['access_token']}"}


def sign_in_with_totp(gw, user) -> dict:
    """Add an authenticator to `user`, then sign in with it: that session's tokens."""
    url = f"{gw}/v1/auth/second-factor/totp"
    r = requests.post(url, json={"password": PASSWORD}, headers=user.headers, timeout=10)
    totp = pyotp.TOTP(r.json()["secret"])
    r = requests.post(url + "/confirm", json={"code": totp.now()}, headers=user.headers, timeout=10)
    assert r.status_code == 200, r.text
    login = {"email": user.email, "password": PASSWORD}
    challenge = requests.post(f"{gw}/v1/auth/login", json=login, timeout=10).json()
    step2 = {"challenge_token": challenge["challenge_token"], "code": totp.at(time.time() + 30)}
    r = requests.post(f"{gw}/v1/auth/login/second-factor", json=step2, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_channel_can_require_a_second_factor_of_owners_and_admins(gateway_url):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    assert ch["require_second_factor"] is False
    admin = member_of(gateway_url, ch["id"], owner, "admin")
    instructor = member_of(gateway_url, ch["id"], owner, "instructor")
    require = {"require_second_factor": True}
    # only from a session signed in with a second factor (no owner locks themselves out)
    r = requests.patch(url(gateway_url, ch["id"]), json=require, headers=owner.headers, timeout=10)
    assert_problem(r, 409)
    owner_2fa = bearer(sign_in_with_totp(gateway_url, owner))
    r = requests.patch(url(gateway_url, ch["id"]), json=require, headers=owner.headers, timeout=10)
    assert_problem(r, 409)  # the factor exists, but this session signed in without it
    r = requests.patch(url(gateway_url, ch["id"]), json=require, headers=owner_2fa, timeout=10)
    assert r.status_code == 200 and r.json()["require_second_factor"] is True

    members = url(gateway_url, ch["id"], "/members")
    assert requests.get(members, headers=owner_2fa, timeout=10).status_code == 200
    assert_problem(requests.get(members, headers=owner.headers, timeout=10), 403)
    # an admin without one reads the channel, and nothing more
    assert requests.get(url(gateway_url, ch["id"]), headers=admin.headers, timeout=10).ok
    assert_problem(requests.get(members, headers=admin.headers, timeout=10), 403)
    # instructors are not asked
    assert requests.get(members, headers=instructor.headers, timeout=10).status_code == 200
    admin_session = sign_in_with_totp(gateway_url, admin)
    assert requests.get(members, headers=bearer(admin_session), timeout=10).status_code == 200
    assert_problem(requests.get(members, headers=admin.headers, timeout=10), 403)
    # a refreshed session keeps its second factor
    rt = {"refresh_token": admin_session["refresh_token"]}
    refreshed = requests.post(f"{gateway_url}/v1/auth/refresh", json=rt, timeout=10)
    assert refreshed.status_code == 200, refreshed.text
    assert requests.get(members, headers=bearer(refreshed.json()), timeout=10).status_code == 200


def test_redirect_origins_are_https_origins_that_onboarding_may_return_to(gateway_url):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    assert ch["redirect_origins"] == []
    onboarding = url(gateway_url, ch["id"], "/payouts/onboarding")
    back = {"return_url": "https://School.example.com/paid"}
    r = requests.post(onboarding, json=back, headers=owner.headers, timeout=20)
    assert_problem(r, 422)  # not an origin the channel lists
    for origins in (
        ["http://school.example.com"],
        ["https://school.example.com/path"],
        ["https://user:pw@school.example.com"],
        ["https://school.example.com?next=/"],
        ["not a url"],
        [f"https://s{i}.example.com" for i in range(11)],
    ):
        r = requests.patch(
            url(gateway_url, ch["id"]),
            json={"redirect_origins": origins},
            headers=owner.headers,
            timeout=10,
        )
        assert_problem(r, 422)
    got = requests.get(url(gateway_url, ch["id"]), headers=owner.headers, timeout=10).json()
    assert got["redirect_origins"] == []  # nothing was written
    r = requests.patch(
        url(gateway_url, ch["id"]),
        json={"redirect_origins": ["https://School.example.com:443/", "https://a.example:8443"]},
        headers=owner.headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.json()["redirect_origins"] == ["https://a.example:8443", "https://school.example.com"]
    r = requests.post(onboarding, json=back, headers=owner.headers, timeout=20)
    assert r.status_code == 200, r.text
