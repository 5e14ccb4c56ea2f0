"""The channel audit log over HTTP (issue 15 item 5): owners and admins page it by cursor,
filter it by time, actor and action, and export it as CSV whose cells a spreadsheet will not
run, with the verification of the channel's hash chain."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.helpers import assert_problem, make_channel, member_of, signup, unique
from tests.helpers import channel_url as api

pytestmark = pytest.mark.e2e


@pytest.fixture
def club(gateway_url):
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    admin = member_of(gateway_url, ch["id"], owner, "admin")
    student = member_of(gateway_url, ch["id"], owner, "student")
    # a request id a spreadsheet would read as a formula (the gateway echoes ids it accepts)
    rid = f"-{unique('rid')}"
    r = requests.patch(
        api(gateway_url, ch["id"], f"/members/{student.id}"),
        json={"role": "moderator"},
        headers={**owner.headers, "X-Request-Id": rid},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return {"owner": owner, "admin": admin, "student": student, "cid": ch["id"], "rid": rid}


def get(gw, club, who="owner", **params):
    return requests.get(
        api(gw, club["cid"], "/audit-log"), params=params, headers=club[who].headers, timeout=30
    )


def test_every_page_by_cursor_newest_first_with_the_chain_verified(gateway_url, club):
    seen, cursor = [], None
    while True:
        r = get(gateway_url, club, limit=1, **({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["chain_verified"] is True and body["chain_broken_at"] is None
        assert len(body["items"]) <= 1
        seen += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    seqs = [i["seq"] for i in seen]
    assert seqs == sorted(seqs, reverse=True) and seqs[-1] == 1
    actions = [i["action"] for i in seen]
    # channel.created, the owner's membership, two members added, one role change
    assert actions.count("member.added") == 3 and "member.role_changed" in actions
    assert actions[-1] == "channel.created"


def test_filters_by_action_actor_and_time(gateway_url, club):
    added = get(gateway_url, club, action="member.added").json()["items"]
    assert len(added) == 3 and {i["action"] for i in added} == {"member.added"}
    family = get(gateway_url, club, action="member.*").json()["items"]
    assert {i["action"] for i in family} == {"member.added", "member.role_changed"}
    by_owner = get(gateway_url, club, actor=club["owner"].id).json()["items"]
    assert by_owner and {i["actor_user_id"] for i in by_owner} == {club["owner"].id}
    by_student = get(gateway_url, club, actor=club["student"].id).json()["items"]
    assert by_student == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert get(gateway_url, club, **{"from": future}).json()["items"] == []
    assert len(get(gateway_url, club, **{"from": past, "to": future}).json()["items"]) == 5
    assert get(gateway_url, club, to=past).json()["items"] == []


def test_csv_export_is_formula_safe_and_carries_the_verification(gateway_url, club):
    r = get(gateway_url, club, format="csv", action="member.*")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv")
    assert r.headers["X-Audit-Chain-Verified"] == "true"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == [
        "seq",
        "occurred_at",
        "action",
        "actor_user_id",
        "target_type",
        "target_id",
        "request_id",
        "details",
        "hash",
    ]
    assert len(rows) == 5  # header + 3 added + 1 role change
    assert [row[6] for row in rows if row[2] == "member.role_changed"] == ["'" + club["rid"]]
    for row in rows[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row), row


def test_the_json_export_keeps_the_raw_request_id(gateway_url, club):
    items = get(gateway_url, club, action="member.role_changed").json()["items"]
    assert [i["request_id"] for i in items] == [club["rid"]]


def test_staff_below_admin_and_strangers_cannot_read_it(gateway_url, club):
    assert get(gateway_url, club, who="admin").status_code == 200
    assert_problem(get(gateway_url, club, who="student"), 403)  # now a moderator
    stranger = signup(gateway_url)
    r = requests.get(
        api(gateway_url, club["cid"], "/audit-log"), headers=stranger.headers, timeout=10
    )
    assert_problem(r, 404)


@pytest.mark.parametrize(
    "params",
    [{"format": "xml"}, {"actor": "not-a-uuid"}, {"from": "yesterday"}, {"limit": "0"}],
)
def test_bad_filters_are_422(gateway_url, club, params):
    assert_problem(get(gateway_url, club, **params), 422)
