"""Identity over HTTP through the gateway, as API.md and RELIABILITY.md specify."""

import re
import time

import pyotp
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
        "second_factor": False,
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


# --- second factor (issue 16 item 13) --------------------------------------------------------


def enroll_totp(gw, user) -> tuple[pyotp.TOTP, list[str]]:
    """Turn on an authenticator for `user`; its TOTP and recovery codes."""
    url = f"{gw}/v1/auth/second-factor/totp"
    started = requests.post(url, json={"password": PASSWORD}, headers=user.headers, timeout=10)
    assert started.status_code == 201, started.text
    totp = pyotp.TOTP(started.json()["secret"])
    assert started.json()["otpauth_uri"].startswith("otpauth://totp/")
    code = totp.now()
    confirmed = post(
        gw, "/v1/auth/second-factor/totp/confirm", {"code": code}, headers=user.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    return totp, confirmed.json()["recovery_codes"]


def next_code(totp: pyotp.TOTP) -> str:
    """The next step's code: the current one was spent by the step before (once only)."""
    return totp.at(time.time() + 30)


def challenge_of(gw, user) -> str:
    r = post(gw, "/v1/auth/login", {"email": user.email, "password": PASSWORD})
    body = assert_problem(r, 401)
    assert body["type"].endswith("/second-factor-required") and "access_token" not in body
    assert body["expires_in"] > 0
    return body["challenge_token"]


def test_second_factor_enrolment_needs_the_password_and_a_first_code(gateway_url, wait_for_mail):
    user = signup(gateway_url)
    url = f"{gateway_url}/v1/auth/second-factor/totp"
    wrong = requests.post(
        url, json={"password": "not the password"}, headers=user.headers, timeout=10
    )
    assert_problem(wrong, 403)
    assert_problem(requests.post(url, json={"password": PASSWORD}, timeout=10), 401)
    started = requests.post(url, json={"password": PASSWORD}, headers=user.headers, timeout=10)
    totp = pyotp.TOTP(started.json()["secret"])
    bad = "000000" if totp.now() != "000000" else "111111"
    confirm = f"{gateway_url}/v1/auth/second-factor/totp/confirm"
    assert_problem(
        requests.post(confirm, json={"code": bad}, headers=user.headers, timeout=10), 403
    )
    # not on until confirmed: the password alone still signs in
    assert post(gateway_url, "/v1/auth/login", {"email": user.email, "password": PASSWORD}).ok
    me = requests.get(f"{gateway_url}/v1/me", headers=user.headers, timeout=10).json()
    assert me["second_factor"] is False
    ok = requests.post(confirm, json={"code": totp.now()}, headers=user.headers, timeout=10)
    assert ok.status_code == 200 and len(set(ok.json()["recovery_codes"])) == 10
    assert wait_for_mail(user.email, subject="Two-step sign-in is on")
    me = requests.get(f"{gateway_url}/v1/me", headers=user.headers, timeout=10).json()
    assert me["second_factor"] is True
    again = requests.post(url, json={"password": PASSWORD}, headers=user.headers, timeout=10)
    assert_problem(again, 409)


def test_login_with_a_second_factor_takes_a_code_once(gateway_url):
    user = signup(gateway_url)
    totp, _ = enroll_totp(gateway_url, user)
    challenge = challenge_of(gateway_url, user)
    step2 = "/v1/auth/login/second-factor"
    wrong = next(c for c in ("000000", "111111", "222222") if not totp.verify(c, valid_window=2))
    bad = post(gateway_url, step2, {"challenge_token": challenge, "code": wrong})
    assert_problem(bad, 401)
    code = next_code(totp)
    ok = post(gateway_url, step2, {"challenge_token": challenge, "code": code})
    assert ok.status_code == 200, ok.text
    assert (
        ok.json()["user"]["id"] == user.id
        and me_status(gateway_url, ok.json()["access_token"]) == 200
    )
    # the challenge is spent, and so is the code (a second login cannot replay it)
    assert_problem(post(gateway_url, step2, {"challenge_token": challenge, "code": code}), 401)
    replay = post(
        gateway_url, step2, {"challenge_token": challenge_of(gateway_url, user), "code": code}
    )
    assert_problem(replay, 401)


def test_a_challenge_takes_five_wrong_codes_at_most(gateway_url):
    user = signup(gateway_url)
    totp, _ = enroll_totp(gateway_url, user)
    challenge = challenge_of(gateway_url, user)
    wrong = next(c for c in ("000000", "111111", "222222") if not totp.verify(c, valid_window=2))
    for _ in range(5):
        r = post(
            gateway_url,
            "/v1/auth/login/second-factor",
            {"challenge_token": challenge, "code": wrong},
        )
        assert_problem(r, 401)
    right = post(
        gateway_url,
        "/v1/auth/login/second-factor",
        {"challenge_token": challenge, "code": next_code(totp)},
    )
    assert_problem(right, 401)  # out of attempts: sign in again


def test_recovery_codes_work_once_each_and_are_mailed_about(gateway_url, wait_for_mail):
    user = signup(gateway_url)
    _, codes = enroll_totp(gateway_url, user)
    step2 = "/v1/auth/login/second-factor"
    first = post(
        gateway_url,
        step2,
        {"challenge_token": challenge_of(gateway_url, user), "recovery_code": codes[0].upper()},
    )
    assert first.status_code == 200, first.text
    assert wait_for_mail(user.email, subject="A recovery code was used")
    reused = post(
        gateway_url,
        step2,
        {"challenge_token": challenge_of(gateway_url, user), "recovery_code": codes[0]},
    )
    assert_problem(reused, 401)
    both = post(
        gateway_url, step2, {"challenge_token": "x", "code": "123456", "recovery_code": codes[1]}
    )
    assert_problem(both, 422)


def test_removing_the_second_factor_needs_the_password(gateway_url, wait_for_mail):
    user = signup(gateway_url)
    enroll_totp(gateway_url, user)
    url = f"{gateway_url}/v1/auth/second-factor/totp/remove"
    assert_problem(
        requests.post(url, json={"password": "x" * 12}, headers=user.headers, timeout=10), 403
    )
    assert (
        requests.post(
            url, json={"password": PASSWORD}, headers=user.headers, timeout=10
        ).status_code
        == 204
    )
    assert wait_for_mail(user.email, subject="Two-step sign-in is off")
    assert (
        post(gateway_url, "/v1/auth/login", {"email": user.email, "password": PASSWORD}).status_code
        == 200
    )
    assert_problem(
        requests.post(url, json={"password": PASSWORD}, headers=user.headers, timeout=10), 404
    )
