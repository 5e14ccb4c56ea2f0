"""The Zoom webhook over HTTP through the gateway: Zoom's signature (missing, bad, stale either
way: 401 and nothing written), the URL validation challenge only when signed, each delivery
recorded once (replay x5), session status from meeting.started / ended in any order, and an
event about another account's meeting changing nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import requests

from tests.helpers import assert_problem, outbox_events, run_sql
from tests.live_support import (
    SECRET,
    add_session,
    event,
    make_world,
    past,
    post_event,
    signed,
    zoom_time,
)

pytestmark = pytest.mark.e2e
URL = "/v1/webhooks/live/zoom"


@pytest.fixture(scope="module")
def world(gateway_url):
    return make_world(gateway_url, students=1)


def deliveries(admin_db, session_id) -> int:
    return run_sql(
        admin_db, "SELECT count(*) FROM live_webhook_deliveries WHERE session_id = :s", s=session_id
    )[0][0]


def session_row(admin_db, session_id):
    (row,) = run_sql(
        admin_db,
        "SELECT status, started_at, ended_at FROM live_sessions WHERE id = :s",
        s=session_id,
    )
    return {"status": row[0], "started_at": row[1], "ended_at": row[2]}


def test_missing_bad_and_stale_signatures_are_401_and_write_nothing(gateway_url, world, admin_db):
    s = add_session(admin_db, world, starts_at=past(5))
    body = event("meeting.started", world.account_id, s["meeting_id"])
    now = int(time.time())
    attempts = [
        {"Content-Type": "application/json"},  # unsigned
        {**signed(body), "x-zm-signature": "v0=" + "0" * 64},  # wrong MAC
        signed(body, secret="not-the-secret"),
        signed(body, ts=now - 330),  # stale (the exact edges are unit-tested)
        signed(body, ts=now + 330),  # from the future
        {**signed(body), "x-zm-request-timestamp": "soon"},
        {"x-zm-signature": signed(body)["x-zm-signature"]},  # no timestamp
    ]
    for headers in attempts:
        r = requests.post(gateway_url + URL, data=body, headers=headers, timeout=10)
        assert_problem(r, 401)
    # signed for another body: the signature covers the raw bytes
    other = event("meeting.ended", world.account_id, s["meeting_id"])
    r = requests.post(gateway_url + URL, data=other, headers=signed(body), timeout=10)
    assert_problem(r, 401)
    assert deliveries(admin_db, s["id"]) == 0
    assert session_row(admin_db, s["id"])["status"] == "scheduled"
    # within the window both ways it passes
    r = post_event(gateway_url, body, ts=now - 290)
    assert r.status_code == 200, r.text


def test_the_url_validation_challenge_is_answered_only_when_signed(gateway_url):
    body = json.dumps(
        {
            "event": "endpoint.url_validation",
            "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
            "event_ts": int(time.time() * 1000),
        }
    ).encode()
    r = requests.post(
        gateway_url + URL, data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert_problem(r, 401)
    assert "encryptedToken" not in r.text
    r = requests.post(gateway_url + URL, data=body, headers=signed(body, secret="x"), timeout=10)
    assert_problem(r, 401)
    r = post_event(gateway_url, body)
    assert r.status_code == 200, r.text
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert r.json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}


def test_a_signed_body_that_is_not_an_event_is_400(gateway_url):
    for body in (b"not json", b"[]", b'{"event": "meeting.started"}'):
        assert_problem(post_event(gateway_url, body), 400)


def test_replay_x5_records_one_delivery_and_one_effect(gateway_url, world, admin_db):
    s = add_session(admin_db, world, starts_at=past(2))
    started = past(1)
    body = event(
        "meeting.started", world.account_id, s["meeting_id"], {"start_time": zoom_time(started)}
    )
    answers = [post_event(gateway_url, body) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.json()["status"] for a in answers] == ["applied"] + ["duplicate"] * 4
    assert deliveries(admin_db, s["id"]) == 1
    row = session_row(admin_db, s["id"])
    assert row["status"] == "live" and row["started_at"] == started


def test_ended_before_started_still_ends_the_session(gateway_url, world, admin_db):
    s = add_session(admin_db, world, starts_at=past(70))
    started, ended = past(65), past(3)
    end = event("meeting.ended", world.account_id, s["meeting_id"], {"end_time": zoom_time(ended)})
    start = event(
        "meeting.started", world.account_id, s["meeting_id"], {"start_time": zoom_time(started)}
    )
    assert post_event(gateway_url, end).json()["status"] == "applied"
    assert post_event(gateway_url, start).json()["status"] == "applied"
    assert session_row(admin_db, s["id"]) == {
        "status": "ended",
        "started_at": started,
        "ended_at": ended,
    }
    # one live_session.ended event (attendance is final), not one per delivery
    assert post_event(gateway_url, end).json()["status"] == "duplicate"
    events = outbox_events(admin_db(), world.cid, "live_session.ended")
    mine = [p for p in events if p["session_id"] == s["id"]]
    assert len(mine) == 1 and mine[0]["batch_id"] == world.batch_id
    # the session answers its new status over the API too
    r = requests.get(
        f"{gateway_url}/v1/channels/{world.cid}/batches/{world.batch_id}/sessions/{s['id']}",
        headers=world.owner.headers,
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["status"] == "ended"


def test_an_event_from_another_account_changes_nothing(gateway_url, world, admin_db):
    s = add_session(admin_db, world, starts_at=past(5))
    for account in ("acc_someone_else", ""):
        body = event("meeting.ended", account, s["meeting_id"])
        r = post_event(gateway_url, body)
        assert r.status_code == 200 and r.json()["status"] == "ignored"
    body = event("meeting.ended", world.account_id, "999")  # our account, no such meeting
    assert post_event(gateway_url, body).json()["status"] == "ignored"
    assert deliveries(admin_db, s["id"]) == 0
    assert session_row(admin_db, s["id"])["status"] == "scheduled"


def test_another_channel_cannot_end_a_session_with_its_own_zoom_account(
    gateway_url, world, admin_db
):
    """Two channels, two Zoom accounts: channel B's account naming channel A's meeting id
    reaches nothing; B's account naming B's own meeting changes only B's session."""
    other = make_world(gateway_url, students=0)
    mine = add_session(admin_db, world, starts_at=past(5))
    conn = admin_db()
    theirs = add_session(admin_db, other, starts_at=past(5))
    conn.run(
        "UPDATE live_sessions SET provider_meeting_id = :m || '-b' WHERE id = :s",
        m=mine["meeting_id"],
        s=theirs["id"],
    )
    body = event("meeting.ended", other.account_id, mine["meeting_id"])
    assert post_event(gateway_url, body).json()["status"] == "ignored"
    assert session_row(admin_db, mine["id"])["status"] == "scheduled"
    body = event("meeting.ended", other.account_id, mine["meeting_id"] + "-b")
    assert post_event(gateway_url, body).json()["status"] == "applied"
    assert session_row(admin_db, theirs["id"])["status"] == "ended"
    assert session_row(admin_db, mine["id"])["status"] == "scheduled"


def test_a_recording_is_queued_once_and_its_token_kept_nowhere(gateway_url, world, admin_db, stack):
    s = add_session(admin_db, world, starts_at=past(70))
    zoom = stack.env["ZOOM_API_BASE"]
    r = requests.put(
        f"{zoom}/_sim/recordings/{s['id']}.mp4",
        data=b"\x00\x00\x00\x18ftypmp42" + bytes(64),
        timeout=30,
    )
    assert r.status_code == 201, r.text
    rec = r.json()
    body = event(
        "recording.completed",
        world.account_id,
        s["meeting_id"],
        {
            "topic": "Live class",
            "recording_files": [
                {
                    "id": "file-1",
                    "file_type": "MP4",
                    "recording_type": "shared_screen_with_speaker_view",
                    "status": "completed",
                    "download_url": rec["download_url"],
                    "file_size": 76,
                }
            ],
        },
        download_token=rec["download_token"],
    )
    answers = [post_event(gateway_url, body).json()["status"] for _ in range(3)]
    assert answers == ["queued", "duplicate", "duplicate"]
    conn = admin_db()
    assert (
        conn.run("SELECT count(*) FROM live_recording_ingests WHERE session_id = :s", s=s["id"])[0][
            0
        ]
        == 1
    )
    stored = conn.run(
        "SELECT count(*) FROM live_webhook_deliveries d, live_recording_ingests i"
        " WHERE d.session_id = :s AND i.session_id = :s"
        " AND (row_to_json(d)::text LIKE :t OR row_to_json(i)::text LIKE :t)",
        s=s["id"],
        t=f"%{rec['download_token']}%",
    )[0][0]
    assert stored == 0
