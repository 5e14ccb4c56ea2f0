"""Staff pages over HTTP (issue 12 item 3, issue 14 item 3): the cookie sign-in with its
second factor and rate limit, CSRF on every form, who gets in (moderators and up; students
403; another channel's staff 404), expired and revoked sessions, and the analytics dashboard."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
import requests

from tests.helpers import PASSWORD, User, make_channel, member_of, signup

pytestmark = pytest.mark.e2e
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
CHALLENGE = re.compile(r'name="challenge_token" value="([^"]+)"')


@pytest.fixture
def chan(gateway_url):
    owner = signup(gateway_url, name="Owner")
    ch = make_channel(gateway_url, owner, name="Admin Pages Test")
    return {"ch": ch, "slug": ch["slug"], "owner": owner}


def admin(gw: str, slug: str, page: str = "") -> str:
    return f"{gw}/ch/{slug}/admin" + (f"/{page}" if page else "")


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, html[:500]
    return m.group(1)


def login(
    gw: str, slug: str, user: User, *, next_page: str | None = None
) -> tuple[requests.Session, requests.Response]:
    """A browser-like session that signed in through the form (no redirect followed)."""
    s = requests.Session()
    url = admin(gw, slug, "login") + (f"?next=/ch/{slug}/admin/{next_page}" if next_page else "")
    form = s.get(url, timeout=10)
    assert form.status_code == 200, form.text
    r = s.post(
        admin(gw, slug, "login"),
        data={
            "csrf": csrf_of(form.text),
            "email": user.email,
            "password": user.password,
            "next": f"/ch/{slug}/admin/{next_page or 'moderation'}",
        },
        allow_redirects=False,
        timeout=10,
    )
    return s, r


def set_cookies(resp: requests.Response) -> dict[str, str]:
    """name -> the whole Set-Cookie value, of every Set-Cookie header of the answer."""
    out = {}
    for value in resp.raw.headers.getlist("Set-Cookie"):
        out[value.split("=", 1)[0]] = value
    return out


# --- sign-in ---------------------------------------------------------------------------------


def test_login_sets_a_short_lived_httponly_strict_cookie_scoped_to_the_channel(gateway_url, chan):
    s, r = login(gateway_url, chan["slug"], chan["owner"], next_page="analytics")
    assert r.status_code == 303, r.text
    assert r.headers["Location"] == f"/ch/{chan['slug']}/admin/analytics"
    cookie = set_cookies(r)["cp_staff"]
    attrs = [a.strip() for a in cookie.split(";")]
    assert "HttpOnly" in attrs and "SameSite=Strict" in attrs
    assert f"Path=/ch/{chan['slug']}/admin" in attrs
    max_age = int(next(a for a in attrs if a.startswith("Max-Age=")).split("=")[1])
    assert 60 <= max_age <= 1800
    assert set_cookies(r)["cp_staff_login"].split(";")[0] == "cp_staff_login="  # cleared
    page = s.get(admin(gateway_url, chan["slug"], "analytics"), timeout=10)
    assert page.status_code == 200
    assert "Analytics" in page.text and chan["ch"]["name"] in page.text


def test_the_login_form_has_security_headers_and_no_script(gateway_url, chan):
    r = requests.get(admin(gateway_url, chan["slug"], "login"), timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "form-action 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "<script" not in r.text.lower()
    assert "HttpOnly" in set_cookies(r)["cp_staff_login"]


def test_wrong_password_answers_the_form_again_without_a_session(gateway_url, chan):
    s = requests.Session()
    form = s.get(admin(gateway_url, chan["slug"], "login"), timeout=10)
    r = s.post(
        admin(gateway_url, chan["slug"], "login"),
        data={"csrf": csrf_of(form.text), "email": chan["owner"].email, "password": "nope-nope"},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 401
    assert "incorrect" in r.text and "cp_staff" not in s.cookies.get_dict()


@pytest.mark.parametrize("csrf", [None, "", "forged-token", "A" * 44])
def test_login_without_the_forms_csrf_token_is_403(gateway_url, chan, csrf):
    s = requests.Session()
    s.get(admin(gateway_url, chan["slug"], "login"), timeout=10)  # the pre-login cookie
    data = {"email": chan["owner"].email, "password": PASSWORD}
    if csrf is not None:
        data["csrf"] = csrf
    r = s.post(
        admin(gateway_url, chan["slug"], "login"), data=data, allow_redirects=False, timeout=10
    )
    assert r.status_code == 403
    assert "cp_staff" not in set_cookies(r)


def test_nul_characters_in_the_login_form_are_a_4xx_not_a_500(gateway_url, chan):
    s = requests.Session()
    form = s.get(admin(gateway_url, chan["slug"], "login"), timeout=10)
    r = s.post(
        admin(gateway_url, chan["slug"], "login"),
        data={"csrf": csrf_of(form.text), "email": "a\x00@example.com", "password": "x\x00"},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 422 and "text/html" in r.headers["Content-Type"]


def test_login_token_without_its_pre_login_cookie_is_403(gateway_url, chan):
    """A token copied out of someone else's form is bound to their nonce cookie."""
    form = requests.get(admin(gateway_url, chan["slug"], "login"), timeout=10)
    r = requests.post(
        admin(gateway_url, chan["slug"], "login"),
        data={"csrf": csrf_of(form.text), "email": chan["owner"].email, "password": PASSWORD},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 403


def test_a_student_is_refused_403_and_gets_no_cookie(gateway_url, chan):
    student = member_of(gateway_url, chan["ch"]["id"], chan["owner"], "student")
    _, r = login(gateway_url, chan["slug"], student)
    assert r.status_code == 403
    assert "cp_staff" not in set_cookies(r)


def test_another_channels_staff_get_404(gateway_url, chan):
    other_owner = signup(gateway_url, name="Other owner")
    other = make_channel(gateway_url, other_owner)
    _, r = login(gateway_url, chan["slug"], other_owner)
    assert r.status_code == 404 and "cp_staff" not in set_cookies(r)
    # their own channel's cookie, replayed on this channel's pages: 404 too
    s, ok = login(gateway_url, other["slug"], other_owner, next_page="analytics")
    assert ok.status_code == 303
    token = s.cookies.get("cp_staff")
    r = requests.get(
        admin(gateway_url, chan["slug"], "analytics"),
        cookies={"cp_staff": token},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 404


def test_unknown_channel_is_404(gateway_url):
    assert (
        requests.get(admin(gateway_url, "no-such-chan-x1", "login"), timeout=10).status_code == 404
    )


@pytest.mark.parametrize(
    ("slug", "page", "method"),
    [
        ("%F3%A5%A9%A9%C3%A6%0DL%F2%83%85%99m%29%144", "", "GET"),  # a CR: no Location header
        ("0", "", "GET"),
        ("0", "moderation", "GET"),
        ("0", "analytics/export.csv", "GET"),
        ("0", "moderation", "POST"),
        ("0", "moderation/bans/01a22ab9-c9fa-717d-a60c-8861d578b9f7/lift", "POST"),
    ],
)
def test_a_slug_no_channel_can_have_is_a_404_page_not_a_500_or_401(gateway_url, slug, page, method):
    r = requests.request(method, admin(gateway_url, slug, page), allow_redirects=False, timeout=10)
    assert r.status_code == 404, r.text[:300]
    assert r.headers["Content-Type"].startswith("text/html")
    assert "Location" not in r.headers


def test_a_moderator_may_sign_in_but_not_open_analytics(gateway_url, chan):
    moderator = member_of(gateway_url, chan["ch"]["id"], chan["owner"], "moderator")
    s, r = login(gateway_url, chan["slug"], moderator)
    assert r.status_code == 303 and s.cookies.get("cp_staff")
    page = s.get(admin(gateway_url, chan["slug"], "analytics"), allow_redirects=False, timeout=10)
    assert page.status_code == 403


def test_second_factor_is_asked_for_and_checked(gateway_url, chan):
    owner = chan["owner"]
    started = requests.post(
        f"{gateway_url}/v1/auth/second-factor/totp",
        json={"password": PASSWORD},
        headers=owner.headers,
        timeout=10,
    )
    assert started.status_code == 201, started.text
    totp = pyotp.TOTP(started.json()["secret"])
    confirmed = requests.post(
        f"{gateway_url}/v1/auth/second-factor/totp/confirm",
        json={"code": totp.now()},
        headers=owner.headers,
        timeout=10,
    )
    assert confirmed.status_code == 200, confirmed.text
    s, r = login(gateway_url, chan["slug"], owner, next_page="analytics")
    assert r.status_code == 200 and "cp_staff" not in s.cookies.get_dict()
    challenge = CHALLENGE.search(r.text).group(1)
    wrong = next(c for c in ("000000", "111111", "222222") if not totp.verify(c, valid_window=2))
    bad = s.post(
        admin(gateway_url, chan["slug"], "login"),
        data={"csrf": csrf_of(r.text), "challenge_token": challenge, "code": wrong},
        allow_redirects=False,
        timeout=10,
    )
    assert bad.status_code == 401 and "cp_staff" not in s.cookies.get_dict()
    s, r = login(gateway_url, chan["slug"], owner, next_page="analytics")
    challenge = CHALLENGE.search(r.text).group(1)
    ok = s.post(
        admin(gateway_url, chan["slug"], "login"),
        data={
            "csrf": csrf_of(r.text),
            "challenge_token": challenge,
            "code": totp.at(time.time() + 30),
            "next": f"/ch/{chan['slug']}/admin/analytics",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert ok.status_code == 303, ok.text
    assert s.get(admin(gateway_url, chan["slug"], "analytics"), timeout=10).status_code == 200


def test_the_login_form_is_rate_limited_like_the_api(gateway_url, chan):
    s = requests.Session()
    form = s.get(admin(gateway_url, chan["slug"], "login"), timeout=10)
    token = csrf_of(form.text)
    statuses = []
    for _ in range(12):
        r = s.post(
            admin(gateway_url, chan["slug"], "login"),
            data={"csrf": token, "email": chan["owner"].email, "password": "wrong-password"},
            allow_redirects=False,
            timeout=10,
        )
        statuses.append(r.status_code)
        if r.status_code == 429:
            break
    assert statuses[0] == 401 and statuses[-1] == 429, statuses
    assert int(r.headers["Retry-After"]) >= 1
    # the account is locked for the API too: it is the same limit
    api = requests.post(
        f"{gateway_url}/v1/auth/login",
        json={"email": chan["owner"].email, "password": PASSWORD},
        timeout=10,
    )
    assert api.status_code == 429


# --- sessions --------------------------------------------------------------------------------


def test_no_cookie_sends_the_browser_to_the_login_form(gateway_url, chan):
    r = requests.get(
        admin(gateway_url, chan["slug"], "analytics") + "?from=2026-01-01",
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 303
    assert r.headers["Location"].startswith(f"/ch/{chan['slug']}/admin/login?next=")
    assert "analytics" in r.headers["Location"]


def test_an_expired_or_forged_cookie_is_no_session(gateway_url, chan):
    from shared.identity import issue_access_token

    expired, _ = issue_access_token(chan["owner"].id, now=time.time() - 7200)
    for token in (expired, "not-a-token", chan["owner"].token[:-3] + "abc"):
        r = requests.get(
            admin(gateway_url, chan["slug"], "analytics"),
            cookies={"cp_staff": token},
            allow_redirects=False,
            timeout=10,
        )
        assert r.status_code == 303, token
        assert "/admin/login" in r.headers["Location"]
        assert set_cookies(r)["cp_staff"].startswith("cp_staff=; Max-Age=0")


def test_logout_all_ends_the_cookie_session(gateway_url, chan):
    s, r = login(gateway_url, chan["slug"], chan["owner"], next_page="analytics")
    assert r.status_code == 303
    url = admin(gateway_url, chan["slug"], "analytics")
    assert s.get(url, allow_redirects=False, timeout=10).status_code == 200
    out = requests.post(
        f"{gateway_url}/v1/auth/logout-all", headers=chan["owner"].headers, timeout=10
    )
    assert out.status_code == 204, out.text
    from tests.helpers import eventually

    eventually(
        lambda: (
            requests.get(
                url,
                cookies={"cp_staff": s.cookies.get("cp_staff")},
                allow_redirects=False,
                timeout=10,
            ).status_code
        ),
        303,
        timeout=15,
        interval=0.5,
    )


def test_logout_needs_the_csrf_token_then_clears_the_cookie(gateway_url, chan):
    s, _ = login(gateway_url, chan["slug"], chan["owner"], next_page="analytics")
    page = s.get(admin(gateway_url, chan["slug"], "analytics"), timeout=10)
    refused = s.post(
        admin(gateway_url, chan["slug"], "logout"), data={}, allow_redirects=False, timeout=10
    )
    assert refused.status_code == 403
    assert (
        s.get(
            admin(gateway_url, chan["slug"], "analytics"), allow_redirects=False, timeout=10
        ).status_code
        == 200
    )
    out = s.post(
        admin(gateway_url, chan["slug"], "logout"),
        data={"csrf": csrf_of(page.text)},
        allow_redirects=False,
        timeout=10,
    )
    assert out.status_code == 303
    assert set_cookies(out)["cp_staff"].startswith("cp_staff=; Max-Age=0")
    assert (
        s.get(
            admin(gateway_url, chan["slug"], "analytics"), allow_redirects=False, timeout=10
        ).status_code
        == 303
    )


def test_login_next_cannot_leave_the_channels_admin_area(gateway_url, chan):
    s = requests.Session()
    form = s.get(admin(gateway_url, chan["slug"], "login"), timeout=10)
    r = s.post(
        admin(gateway_url, chan["slug"], "login"),
        data={
            "csrf": csrf_of(form.text),
            "email": chan["owner"].email,
            "password": PASSWORD,
            "next": "https://evil.example/",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 303
    assert r.headers["Location"] == f"/ch/{chan['slug']}/admin/moderation"


# --- analytics dashboard ---------------------------------------------------------------------


def test_dashboard_has_charts_tables_filters_and_a_working_csv_link(gateway_url, chan):
    s, _ = login(gateway_url, chan["slug"], chan["owner"], next_page="analytics")
    r = s.get(
        admin(gateway_url, chan["slug"], "analytics"),
        params={"from": "2026-01-01", "to": "2026-01-14"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    html = r.text
    assert html.count("<svg") == 4 and 'role="img"' in html
    assert 'id="watch-minutes-title"' in html and "<table>" in html
    assert 'name="from"' in html and 'name="course_id"' in html and 'name="batch_id"' in html
    assert "Period 2026-01-01 to 2026-01-14" in html
    link = re.search(r'id="csv-daily" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    csv = s.get(gateway_url + link, timeout=10)
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("day,")
    assert len(csv.text.splitlines()) == 15  # header + 14 days


def test_dashboard_bad_filters_are_explained_not_500(gateway_url, chan):
    s, _ = login(gateway_url, chan["slug"], chan["owner"], next_page="analytics")
    url = admin(gateway_url, chan["slug"], "analytics")
    r = s.get(url, params={"from": "2026-02-01", "to": "2026-01-01"}, timeout=10)
    assert r.status_code == 422 and 'class="error"' in r.text
    r = s.get(url, params={"from": "not-a-date"}, timeout=10)
    assert r.status_code == 422
    r = s.get(url, params={"course_id": "00000000-0000-7000-8000-000000000000"}, timeout=10)
    assert r.status_code == 404 and 'class="error"' in r.text
    r = s.get(url + "/export.csv", params={"kind": "bogus"}, timeout=10)
    assert r.status_code == 422


# --- moderation page -------------------------------------------------------------------------


@pytest.fixture
def flagged(gateway_url, chan):
    """A space with a student's post flagged by two other students."""
    gw, cid, owner = gateway_url, chan["ch"]["id"], chan["owner"]
    space = requests.post(
        f"{gw}/v1/channels/{cid}/spaces",
        json={"name": "General"},
        headers=owner.headers,
        timeout=10,
    )
    assert space.status_code == 201, space.text
    author = member_of(gw, cid, owner, "student")
    post = requests.post(
        f"{gw}/v1/channels/{cid}/spaces/{space.json()['id']}/posts",
        json={"body": "Buy cheap watches <script>alert(1)</script> now"},
        headers=author.headers,
        timeout=10,
    )
    assert post.status_code == 201, post.text
    reporters = [member_of(gw, cid, owner, "student") for _ in range(2)]
    for reporter, reason in zip(reporters, ("spam", "scam link"), strict=True):
        f = requests.post(
            f"{gw}/v1/channels/{cid}/posts/{post.json()['id']}/flags",
            json={"reason": reason},
            headers=reporter.headers,
            timeout=10,
        )
        assert f.status_code == 201, f.text
    moderator = member_of(gw, cid, owner, "moderator")
    return {
        **chan,
        "space": space.json()["id"],
        "post": post.json()["id"],
        "author": author,
        "moderator": moderator,
        "cid": cid,
    }


def post_status(gw: str, f: dict, user: User) -> int:
    return requests.get(
        f"{gw}/v1/channels/{f['cid']}/posts/{f['post']}", headers=user.headers, timeout=10
    ).status_code


def test_a_moderator_sees_the_queue_with_excerpt_reasons_and_reporters(gateway_url, flagged):
    s, r = login(gateway_url, flagged["slug"], flagged["moderator"])
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/moderation")
    page = s.get(admin(gateway_url, flagged["slug"], "moderation"), timeout=10)
    assert page.status_code == 200, page.text
    html = page.text
    assert f'id="item-{flagged["post"]}"' in html
    assert "2 flags" in html and "spam" in html and "scam link" in html
    assert "Buy cheap watches" in html
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert html.count('value="remove"') == 1 and 'value="ban_user"' in html
    assert "<script" not in html.replace("&lt;script", "")


@pytest.mark.parametrize("csrf", [None, "", "forged"])
def test_a_moderation_post_without_its_csrf_token_is_403_and_changes_nothing(
    gateway_url, flagged, csrf
):
    s, _ = login(gateway_url, flagged["slug"], flagged["moderator"])
    data = {"target_type": "post", "target_id": flagged["post"], "action": "remove"}
    if csrf is not None:
        data["csrf"] = csrf
    r = s.post(
        admin(gateway_url, flagged["slug"], "moderation"),
        data=data,
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 403
    assert post_status(gateway_url, flagged, flagged["author"]) == 200
    q = requests.get(
        f"{gateway_url}/v1/channels/{flagged['cid']}/moderation/queue",
        headers=flagged["moderator"].headers,
        timeout=10,
    )
    assert [i["target_id"] for i in q.json()["items"]] == [flagged["post"]]


def test_another_sessions_csrf_token_is_refused(gateway_url, flagged):
    """A token is bound to its session: the owner's page token does not work with the
    moderator's cookie."""
    owner_s, _ = login(gateway_url, flagged["slug"], flagged["owner"])
    owner_token = csrf_of(
        owner_s.get(admin(gateway_url, flagged["slug"], "moderation"), timeout=10).text
    )
    mod_s, _ = login(gateway_url, flagged["slug"], flagged["moderator"])
    r = mod_s.post(
        admin(gateway_url, flagged["slug"], "moderation"),
        data={
            "csrf": owner_token,
            "target_type": "post",
            "target_id": flagged["post"],
            "action": "remove",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 403
    assert post_status(gateway_url, flagged, flagged["author"]) == 200


def test_remove_from_the_page_hides_the_post_and_empties_the_queue(gateway_url, flagged):
    s, _ = login(gateway_url, flagged["slug"], flagged["moderator"])
    url = admin(gateway_url, flagged["slug"], "moderation")
    token = csrf_of(s.get(url, timeout=10).text)
    r = s.post(
        url,
        data={
            "csrf": token,
            "target_type": "post",
            "target_id": flagged["post"],
            "action": "remove",
            "reason": "spam",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/moderation?done=remove")
    after = s.get(gateway_url + r.headers["Location"], timeout=10)
    assert "Removed." in after.text and 'id="queue-empty"' in after.text
    assert f'id="item-{flagged["post"]}"' not in after.text
    assert post_status(gateway_url, flagged, flagged["author"]) == 404
    # an unknown target is a 404 page, not a 500
    again = s.post(
        url,
        data={
            "csrf": token,
            "target_type": "post",
            "target_id": "00000000-0000-7000-8000-000000000000",
            "action": "remove",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert again.status_code == 404 and "text/html" in again.headers["Content-Type"]


def test_ban_from_the_page_then_lift(gateway_url, flagged):
    gw = gateway_url
    s, _ = login(gw, flagged["slug"], flagged["moderator"])
    url = admin(gw, flagged["slug"], "moderation")
    token = csrf_of(s.get(url, timeout=10).text)
    bad = s.post(
        url,
        data={
            "csrf": token,
            "target_type": "post",
            "target_id": flagged["post"],
            "action": "ban_user",
            "ban_days": "0",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert bad.status_code == 422
    nul = s.post(
        url,
        data={
            "csrf": token,
            "target_type": "post",
            "target_id": flagged["post"],
            "action": "remove",
            "reason": "spam\x00",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert nul.status_code == 422
    assert post_status(gw, flagged, flagged["author"]) == 200
    r = s.post(
        url,
        data={
            "csrf": token,
            "target_type": "post",
            "target_id": flagged["post"],
            "action": "ban_user",
            "ban_days": "3",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 303, r.text
    page = s.get(url, timeout=10).text
    assert f'id="ban-{flagged["author"].id}"' in page
    blocked = requests.post(
        f"{gw}/v1/channels/{flagged['cid']}/spaces/{flagged['space']}/posts",
        json={"body": "again"},
        headers=flagged["author"].headers,
        timeout=10,
    )
    assert blocked.status_code == 403
    lift = f"{url}/bans/{flagged['author'].id}/lift"
    assert s.post(lift, data={}, allow_redirects=False, timeout=10).status_code == 403
    r = s.post(lift, data={"csrf": token}, allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["Location"].endswith("done=lift_ban")
    assert 'id="bans-empty"' in s.get(url, timeout=10).text
    ok = requests.post(
        f"{gw}/v1/channels/{flagged['cid']}/spaces/{flagged['space']}/posts",
        json={"body": "back"},
        headers=flagged["author"].headers,
        timeout=10,
    )
    assert ok.status_code == 201, ok.text
    # lifting again: no active ban, a 404 page
    assert s.post(lift, data={"csrf": token}, allow_redirects=False, timeout=10).status_code == 404


def test_students_and_other_channels_cannot_open_the_queue(gateway_url, flagged):
    url = admin(gateway_url, flagged["slug"], "moderation")
    # a student's own access token presented as the cookie: a member without the role
    r = requests.get(
        url, cookies={"cp_staff": flagged["author"].token}, allow_redirects=False, timeout=10
    )
    assert r.status_code == 403
    outsider = signup(gateway_url)
    make_channel(gateway_url, outsider)
    r = requests.get(url, cookies={"cp_staff": outsider.token}, allow_redirects=False, timeout=10)
    assert r.status_code == 404
    forged = requests.post(
        url,
        cookies={"cp_staff": outsider.token},
        data={"target_type": "post", "target_id": flagged["post"], "action": "remove"},
        allow_redirects=False,
        timeout=10,
    )
    assert forged.status_code == 404
    assert post_status(gateway_url, flagged, flagged["author"]) == 200


def test_the_admin_area_is_routed_apart_from_the_public_pages(gateway_url, chan):
    """`/ch/*/admin/**` reaches admin_pages first; the landing page stays the public one."""
    landing = requests.get(f"{gateway_url}/ch/{chan['slug']}", timeout=10)
    assert landing.status_code == 200 and "ETag" in landing.headers
    assert "Staff sign-in" not in landing.text
    home = requests.get(admin(gateway_url, chan["slug"]), allow_redirects=False, timeout=10)
    assert home.status_code == 303
    assert home.headers["Location"] == f"/ch/{chan['slug']}/admin/moderation"
    form = requests.get(admin(gateway_url, chan["slug"], "login"), timeout=10)
    assert "Staff sign-in" in form.text and "ETag" not in form.headers
