"""A channel's Zoom tokens in use (issue 11 item 1), in process against Postgres and the stack's
Zoom stand-in: refreshed before they expire, once for concurrent requests (Zoom rotates the
refresh token), renewed when Zoom answers 401; and the meeting a crash left at Zoom between
its creation and the session row, found and deleted by the live sweeper."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from shared.adapters import zoom
from shared.live import service as live_sessions
from shared.live import sweeper, zoom_accounts
from shared.platform.db import transaction
from tests.helpers import make_channel, run_sql, signup
from tests.live_zoom_support import connect_zoom

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def world(gateway_url, stack):
    zoom.reset_client()
    owner = signup(gateway_url)
    cid = make_channel(gateway_url, owner)["id"]
    account = connect_zoom(gateway_url, cid, owner)["account_id"]
    base = f"{gateway_url}/v1/channels/{cid}"
    course = requests.post(
        f"{base}/courses", json={"title": "C"}, headers=owner.headers, timeout=10
    ).json()
    batch = requests.post(
        f"{base}/courses/{course['id']}/batches",
        json={"name": "B", "starts_at": "2031-01-01T00:00:00Z"},
        headers=owner.headers,
        timeout=10,
    ).json()
    return {
        "cid": cid,
        "owner": owner,
        "account": account,
        "batch": batch["id"],
        "zoom": stack.env["ZOOM_STANDIN_URL"],
        "gw": gateway_url,
    }


def zoom_requests(world, since: int = 0) -> list[dict]:
    return requests.get(f"{world['zoom']}/_local/requests", timeout=5).json()["requests"][since:]


def expire(admin_db, cid: str) -> None:
    run_sql(
        admin_db,
        "UPDATE channel_zoom_accounts SET access_expires_at = now() - interval '1 minute'"
        " WHERE channel_id = :c",
        c=cid,
    )


def sealed(admin_db, cid: str) -> tuple[bytes, bytes, object]:
    [row] = run_sql(
        admin_db,
        "SELECT access_token_enc, refresh_token_enc, access_expires_at FROM"
        " channel_zoom_accounts WHERE channel_id = :c",
        c=cid,
    )
    return bytes(row[0]), bytes(row[1]), row[2]


def test_a_token_is_used_until_near_expiry_then_refreshed_and_rotated(world, admin_db):
    cid = world["cid"]
    first = zoom_accounts.access_token(cid)
    since = len(zoom_requests(world))
    assert zoom_accounts.access_token(cid) == first  # fresh: no call to Zoom
    assert [r for r in zoom_requests(world, since) if r["path"] == "/oauth/token"] == []
    before = sealed(admin_db, cid)
    expire(admin_db, cid)
    second = zoom_accounts.access_token(cid)
    assert second != first
    refreshes = [r for r in zoom_requests(world, since) if r["path"] == "/oauth/token"]
    assert len(refreshes) == 1 and refreshes[0]["auth_scheme"] == "Basic"
    after = sealed(admin_db, cid)
    assert after[0] != before[0] and after[1] != before[1]  # the rotated pair is stored
    assert after[2] > before[2]
    # the new token works at Zoom, the old one no longer does
    assert zoom.oauth_app().me(second)["account_id"] == world["account"]
    with pytest.raises(zoom.LiveProviderError):
        zoom.oauth_app().me(first)


def test_concurrent_requests_refresh_once(world, admin_db):
    cid = world["cid"]
    expire(admin_db, cid)
    since = len(zoom_requests(world))
    got: list[str] = []
    errors: list[BaseException] = []
    gate = threading.Barrier(4)

    def ask():
        try:
            gate.wait()
            got.append(zoom_accounts.access_token(cid))
        except BaseException as e:  # collected: the test thread asserts
            errors.append(e)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(got) == 4 and len(set(got)) == 1  # everyone got the one new token
    refreshes = [r for r in zoom_requests(world, since) if r["path"] == "/oauth/token"]
    assert len(refreshes) == 1  # a second refresh would have used a dead refresh token


def test_a_token_zoom_refuses_is_refreshed_once_and_the_call_retried(world):
    requests.post(f"{world['zoom']}/_local/revoke-tokens", timeout=5)  # access tokens die
    since = len(zoom_requests(world))
    meetings = zoom_accounts.meetings_of(world["cid"]).list_meetings()
    assert isinstance(meetings, list)
    paths = [r["path"] for r in zoom_requests(world, since)]
    assert paths == ["/v2/users/me/meetings", "/oauth/token", "/v2/users/me/meetings"]


def test_a_grant_revoked_at_zoom_is_409_connect_again(gateway_url, admin_db):
    owner = signup(gateway_url)
    cid = make_channel(gateway_url, owner)["id"]
    connect_zoom(gateway_url, cid, owner)
    token = zoom_accounts.access_token(cid)
    zoom.oauth_app().revoke(token)  # the account owner uninstalled the app at Zoom
    expire(admin_db, cid)
    with pytest.raises(zoom.GrantRevoked) as caught:
        zoom_accounts.access_token(cid)
    assert caught.value.status == 409


def crash_after_zoom_creates(world, title: str) -> int:
    """Schedule in a child process that dies (os._exit) right after Zoom answered the create,
    before the session row is written: the crash window the sweeper is for."""
    script = f"""
import os
from types import SimpleNamespace
from datetime import UTC, datetime, timedelta
from shared.live import service

real = service.meetings_of

def dying(channel_id):
    client = real(channel_id)
    create = client.create_meeting

    def create_then_die(**kw):
        create(**kw)
        os._exit(9)

    client.create_meeting = create_then_die
    return client

service.meetings_of = dying
service.schedule_session(
    channel_id={world["cid"]!r},
    user_id={world["owner"].id!r},
    batch_id={world["batch"]!r},
    data=SimpleNamespace(
        title={title!r},
        starts_at=datetime.now(UTC) + timedelta(days=2),
        duration_minutes=30,
    ),
)
"""
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode


def stand_in_meetings(world, title: str) -> list[dict]:
    return requests.get(
        f"{world['zoom']}/_local/meetings", params={"topic": title}, timeout=5
    ).json()["meetings"]


def test_a_meeting_left_by_a_crash_is_found_and_deleted(world, admin_db):
    title = f"Crash {uuid.uuid4().hex[:8]}"
    assert crash_after_zoom_creates(world, title) == 9
    [orphan] = stand_in_meetings(world, title)
    assert orphan["deleted"] is False
    conn = admin_db()
    assert conn.run("SELECT count(*) FROM live_sessions WHERE title = :t", t=title)[0][0] == 0
    intents = conn.run(
        "SELECT id::text FROM live_meeting_intents WHERE channel_id = :c", c=world["cid"]
    )
    assert len(intents) == 1 and f"ref: {intents[0][0]}" in orphan["agenda"]

    # a class scheduled normally meanwhile: its meeting must survive the sweep
    kept = live_sessions.schedule_session(
        channel_id=world["cid"],
        user_id=world["owner"].id,
        batch_id=world["batch"],
        data=SimpleNamespace(
            title=f"Kept {uuid.uuid4().hex[:8]}",
            starts_at=orphan_start(),
            duration_minutes=30,
        ),
    )

    # too young: a request could still be in flight, so the sweeper leaves it
    assert sweeper.sweep_orphan_meetings()["claimed"] == 0
    conn.run(
        "UPDATE live_meeting_intents SET created_at = now() - interval '20 minutes'"
        " WHERE channel_id = :c",
        c=world["cid"],
    )
    done = sweeper.sweep_orphan_meetings()
    assert done["meetings_deleted"] >= 1 and done["intents_done"] >= 1
    [orphan] = stand_in_meetings(world, title)
    assert orphan["deleted"] is True
    assert (
        conn.run("SELECT count(*) FROM live_meeting_intents WHERE channel_id = :c", c=world["cid"])[
            0
        ][0]
        == 0
    )
    [survivor] = stand_in_meetings(world, kept["title"])
    assert survivor["deleted"] is False


def orphan_start():
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) + timedelta(days=3)


def test_the_sweeper_claims_across_channels_only_through_its_function(world, admin_db):
    with transaction() as tx:  # no tenant: the table itself shows nothing
        assert tx.scalar("SELECT count(*) FROM live_meeting_intents") == 0
    with transaction(channel_id=str(uuid.uuid4())) as tx:
        assert tx.scalar("SELECT count(*) FROM channel_zoom_accounts") == 0
    granted = run_sql(
        admin_db,
        "SELECT has_function_privilege('platform_app', 'live_claim_stale_intents(interval, int)',"
        " 'EXECUTE')",
    )
    assert granted[0][0] is False
    assert json.dumps(world["account"])  # the fixture ran (the channel is connected)
