"""Identity over HTTP through the gateway, as API.md and RELIABILITY.md specify."""

import re

import requests

from tests.helpers import PASSWORD, assert_problem, eventually, signup, unique


def post(gw, path, body, **kw):
    return requests.post(f"{gw}{path}", json=body, timeout=10, **kw)


def test_signup_answers_tokens_and_never_the_hash(gateway_url):
    email = f"{unique('s')}@example.com"
    r = post(
        gateway_url,
        "/v1/auth/signup",
        {"email": email, "password": PASSWORD, "display_name": "Sam"},
    )
    assert r.status_code == 201
    body = r.json()
    assert body["user"]["email"] == email and body["user"]["display_name"] == "Sam"
    assert body["expires_in"] > 0 and body["access_token"].count(".") == 2
    assert body["refresh_token"] and "hash" not in r.text and "argon2" not in r.text
    again = post(
        gateway_url,
        "/v1/auth/signup",
        {"email": email.upper(), "password": PASSWORD, "display_name": "Sam"},
    )
    assert_problem(again, 409)


def test_weak_password_and_bad_email_are_422(gateway_url):
    for body in (
        {"email": "nope", "password": PASSWORD, "display_name": "x"},
        {"email": f"{unique()}@example.com", "password": "short", "display_name": "x"},
        {"email": f"{unique()}@example.com", "password": "1234567890", "display_name": "x"},
    ):
        assert_problem(post(gateway_url, "/v1/auth/signup", body), 422)


def test_login_me_and_same_answer_for_unknown_email_and_wrong_password(gateway_url):
    user = signup(gateway_url, name="Lou")
    ok = post(gateway_url, "/v1/auth/login", {"email": user.email, "password": PASSWORD})
    assert ok.status_code == 200
    me = requests.get(
        f"{gateway_url}/v1/me",
        timeout=10,
        headers={"Authorization": f"Bearer {ok.json()['access_token']}"},
    )
    assert me.status_code == 200
    assert me.json() == {
        "id": user.id,
        "email": user.email,
        "display_name": "Lou",
        "memberships": [],
    }
    wrong = post(gateway_url, "/v1/auth/login", {"email": user.email, "password": "x" * 12})
    unknown = post(
        gateway_url, "/v1/auth/login", {"email": f"{unique()}@example.com", "password": "x" * 12}
    )
    a, b = assert_problem(wrong, 401), assert_problem(unknown, 401)
    assert (a["title"], a["detail"]) == (b["title"], b["detail"])


def test_me_requires_a_valid_access_token(gateway_url):
    user = signup(gateway_url)
    assert_problem(requests.get(f"{gateway_url}/v1/me", timeout=10), 401)
    bad = {"Authorization": f"Bearer {user.refresh_token}"}  # a refresh token is not access
    assert_problem(requests.get(f"{gateway_url}/v1/me", headers=bad, timeout=10), 401)


def test_refresh_rotates_and_reuse_revokes_the_family(gateway_url):
    user = signup(gateway_url)
    first = post(gateway_url, "/v1/auth/refresh", {"refresh_token": user.refresh_token})
    assert first.status_code == 200
    new_rt = first.json()["refresh_token"]
    assert new_rt != user.refresh_token
    # The old token is spent: presenting it again is reuse -> 401, and the family dies.
    assert_problem(
        post(gateway_url, "/v1/auth/refresh", {"refresh_token": user.refresh_token}), 401
    )
    assert_problem(post(gateway_url, "/v1/auth/refresh", {"refresh_token": new_rt}), 401)


def test_logout_ends_every_session(gateway_url):
    user = signup(gateway_url)
    other = post(gateway_url, "/v1/auth/login", {"email": user.email, "password": PASSWORD})
    r = post(gateway_url, "/v1/auth/logout", {"refresh_token": user.refresh_token})
    assert r.status_code == 204
    assert_problem(
        post(gateway_url, "/v1/auth/refresh", {"refresh_token": other.json()["refresh_token"]}), 401
    )


def me_status(gw, access_token: str) -> int:
    auth = {"Authorization": f"Bearer {access_token}"}
    return requests.get(f"{gw}/v1/me", headers=auth, timeout=10).status_code


# Each gateway worker caches a user's "tokens valid after" instant a few seconds
# (identity.rules.VALID_AFTER_CACHE_SECONDS); the worker that revoked knows at once, the other
# within the window. Tokens must stop working within it, never only at their expiry (15 min).
ENDED_WITHIN = 10.0


def assert_access_ended(gw, *access_tokens: str) -> None:
    for token in access_tokens:
        eventually(lambda t=token: me_status(gw, t), 401, timeout=ENDED_WITHIN)


def test_logout_all_ends_every_access_token_and_session(gateway_url):
    user = signup(gateway_url)
    other = post(gateway_url, "/v1/auth/login", {"email": user.email, "password": PASSWORD}).json()
    assert (
        me_status(gateway_url, user.token) == 200 == me_status(gateway_url, other["access_token"])
    )
    r = requests.post(f"{gateway_url}/v1/auth/logout-all", headers=user.headers, timeout=10)
    assert r.status_code == 204
    assert_access_ended(gateway_url, user.token, other["access_token"])
    for rt in (user.refresh_token, other["refresh_token"]):
        assert_problem(post(gateway_url, "/v1/auth/refresh", {"refresh_token": rt}), 401)
    # signing in again works at once
    again = post(gateway_url, "/v1/auth/login", {"email": user.email, "password": PASSWORD})
    assert again.status_code == 200
    assert me_status(gateway_url, again.json()["access_token"]) == 200
    assert_problem(requests.post(f"{gateway_url}/v1/auth/logout-all", timeout=10), 401)


def test_logout_ends_access_tokens_too(gateway_url):
    user = signup(gateway_url)
    r = post(gateway_url, "/v1/auth/logout", {"refresh_token": user.refresh_token})
    assert r.status_code == 204
    assert_access_ended(gateway_url, user.token)


def test_refresh_token_reuse_ends_every_access_token(gateway_url):
    user = signup(gateway_url)
    rotated = post(gateway_url, "/v1/auth/refresh", {"refresh_token": user.refresh_token}).json()
    assert me_status(gateway_url, rotated["access_token"]) == 200
    # the spent token comes back: someone else holds it
    assert_problem(
        post(gateway_url, "/v1/auth/refresh", {"refresh_token": user.refresh_token}), 401
    )
    assert_access_ended(gateway_url, user.token, rotated["access_token"])


def test_password_reset_by_mailed_single_use_token(gateway_url, wait_for_mail):
    user = signup(gateway_url)
    r = post(gateway_url, "/v1/auth/password-reset", {"email": user.email})
    assert r.status_code == 202
    unknown = post(gateway_url, "/v1/auth/password-reset", {"email": f"{unique()}@example.com"})
    assert unknown.status_code == 202 and unknown.json() == r.json()
    mail = wait_for_mail(user.email, subject="Reset your password")
    token = re.search(r"token=(pr_[A-Za-z0-9_\-]+)", mail.get_body().get_content()).group(1)
    new_pw = "a brand new passphrase"
    ok = post(
        gateway_url, "/v1/auth/password-reset/confirm", {"token": token, "new_password": new_pw}
    )
    assert ok.status_code == 204
    assert_problem(
        post(
            gateway_url,
            "/v1/auth/password-reset/confirm",
            {"token": token, "new_password": "another new passphrase"},
        ),
        400,
    )
    # every session revoked, access tokens included; old password refused; new password works
    assert_access_ended(gateway_url, user.token)
    assert_problem(
        post(gateway_url, "/v1/auth/refresh", {"refresh_token": user.refresh_token}), 401
    )
    assert_problem(
        post(gateway_url, "/v1/auth/login", {"email": user.email, "password": PASSWORD}), 401
    )
    assert (
        post(gateway_url, "/v1/auth/login", {"email": user.email, "password": new_pw}).status_code
        == 200
    )


def test_brute_force_on_one_account_meets_429_with_retry_after(gateway_url):
    user = signup(gateway_url)
    statuses = []
    for _ in range(15):
        r = post(gateway_url, "/v1/auth/login", {"email": user.email, "password": "w" * 12})
        statuses.append(r.status_code)
        if r.status_code == 429:
            break
    assert statuses[0] == 401 and statuses[-1] == 429
    assert int(r.headers["Retry-After"]) >= 1
    # the limit is per account: another account from the same client still signs in
    other = signup(gateway_url)
    assert (
        post(
            gateway_url, "/v1/auth/login", {"email": other.email, "password": PASSWORD}
        ).status_code
        == 200
    )


def test_request_id_is_echoed(gateway_url):
    r = requests.get(f"{gateway_url}/v1/me", headers={"X-Request-Id": "req-123"}, timeout=10)
    assert r.headers["X-Request-Id"] == "req-123"
