"""Issue 16 item 2: the audit log and per-IP limits key on the address the load balancer saw
(the gateway appends it as Google's does), never on an X-Forwarded-For the client wrote."""

from __future__ import annotations

import requests

from tests.helpers import unique


def audited_ip(admin, request_id: str) -> str:
    # The address lives beside the chain, erasable (shared/platform/audit.py).
    rows = admin.run(
        "SELECT a.action, p.data->>'ip' FROM audit_log a"
        " JOIN audit_personal_data p ON p.ref = (a.details->>'ip_ref')::uuid"
        " WHERE a.request_id = :r",
        r=request_id,
    )
    assert len(rows) == 1, rows
    return rows[0][1]


def test_a_forged_forwarded_for_does_not_reach_the_audit_log(gateway_url, admin_db):
    admin = admin_db("superuser")
    for forged in ("6.6.6.6", "6.6.6.6, 7.7.7.7", "not-an-address"):
        rid = unique("rid")
        r = requests.post(
            f"{gateway_url}/v1/auth/login",
            json={"email": f"{unique()}@example.com", "password": "x" * 12},
            headers={"X-Forwarded-For": forged, "X-Request-Id": rid},
            timeout=10,
        )
        assert r.status_code == 401
        assert audited_ip(admin, rid) == "127.0.0.1", forged  # the socket peer of the gateway
