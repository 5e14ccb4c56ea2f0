"""Consent at signup (issue 15 item 3): the accepted versions of the terms and privacy policy
and the analytics opt-in are recorded with their time; a signup without them (an earlier
client) still works and records nothing; the export shows them to their owner."""

from __future__ import annotations

import pytest

from shared import identity
from tests.helpers import PASSWORD, unique

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture
def admin(admin_db):
    conn = admin_db()
    yield conn
    conn.close()


def consent(admin, user_id: str) -> list:
    return admin.run(
        "SELECT terms_version, privacy_version, analytics_consent, consented_at IS NOT NULL"
        " FROM users WHERE id = :u",
        u=user_id,
    )[0]


def test_signup_records_the_accepted_versions_and_the_opt_in(admin):
    out = identity.signup(
        email=f"{unique('c')}@example.com",
        password=PASSWORD,
        display_name="C",
        client_ip="203.0.113.50",
        terms_version="2026-11",
        privacy_version="2026-10",
        analytics_consent=True,
    )
    assert consent(admin, out["user"]["id"]) == ["2026-11", "2026-10", True, True]


def test_a_signup_without_consent_fields_still_works_and_records_nothing(admin):
    out = identity.signup(
        email=f"{unique('c')}@example.com",
        password=PASSWORD,
        display_name="C",
        client_ip="203.0.113.51",
    )
    assert consent(admin, out["user"]["id"]) == [None, None, None, False]


def test_signup_over_http_takes_the_optional_fields(gateway_url, admin):
    import requests

    body = {"email": f"{unique('c')}@example.com", "password": PASSWORD, "display_name": "C"}
    r = requests.post(
        f"{gateway_url}/v1/auth/signup",
        timeout=10,
        json={**body, "terms_version": "v3", "analytics_consent": False},
    )
    assert r.status_code == 201, r.text
    assert consent(admin, r.json()["user"]["id"]) == ["v3", None, False, True]
    r = requests.post(
        f"{gateway_url}/v1/auth/signup",
        timeout=10,
        json={**body, "email": f"{unique('c')}@example.com", "terms_version": ""},
    )
    assert r.status_code == 422
