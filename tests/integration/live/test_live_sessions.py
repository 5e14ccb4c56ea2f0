"""shared.live_sessions in process, against the real Postgres and the stack's Zoom stand-in:
an insert that fails after Zoom created the meeting deletes the meeting again, and the table's
rows stay inside their channel."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import requests
from pg8000.native import DatabaseError

from shared.adapters import zoom
from shared.live import service as live_sessions
from shared.platform.db import transaction
from tests.helpers import make_channel, member_of, signup
from tests.live_zoom_support import connect_zoom


@pytest.fixture(scope="module")
def setup(gateway_url, stack):
    zoom.reset_client()  # built from this session's settings (the test stack's stand-in)
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner)
    connect_zoom(gateway_url, ch["id"], owner)
    instructor = member_of(gateway_url, ch["id"], owner, "instructor")
    base = f"{gateway_url}/v1/channels/{ch['id']}"
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
        "channel_id": ch["id"],
        "instructor": instructor,
        "batch_id": batch["id"],
        "zoom": stack.env["ZOOM_API_BASE"],
    }


def meetings(base: str, title: str) -> list[dict]:
    return requests.get(f"{base}/_local/meetings", params={"topic": title}, timeout=5).json()[
        "meetings"
    ]


def data(title: str, minutes: int = 60) -> SimpleNamespace:
    return SimpleNamespace(
        title=title, starts_at=datetime(2031, 6, 1, 18, tzinfo=UTC), duration_minutes=minutes
    )


def test_a_failed_insert_deletes_the_meeting_it_created(setup, admin_db):
    title = f"Orphan {uuid.uuid4().hex}"
    # 1441 minutes gets past Zoom (the stand-in takes it) but not the table's CHECK: the insert
    # fails after the meeting exists, exactly the window the compensation is for.
    with pytest.raises(DatabaseError):
        live_sessions.schedule_session(
            channel_id=setup["channel_id"],
            user_id=setup["instructor"].id,
            batch_id=setup["batch_id"],
            data=data(title, minutes=1441),
        )
    [meeting] = meetings(setup["zoom"], title)
    assert meeting["deleted"] is True
    conn = admin_db()
    assert conn.run("SELECT count(*) FROM live_sessions WHERE title = :t", t=title)[0][0] == 0
    assert (
        conn.run(
            "SELECT count(*) FROM outbox WHERE event_type = 'live_session.scheduled'"
            " AND payload->>'provider_meeting_id' = :m",
            m=str(meeting["id"]),
        )[0][0]
        == 0
    )


def test_sessions_stay_inside_their_channel(setup):
    title = f"Tenant {uuid.uuid4().hex}"
    out = live_sessions.schedule_session(
        channel_id=setup["channel_id"],
        user_id=setup["instructor"].id,
        batch_id=setup["batch_id"],
        data=data(title),
    )
    with transaction(channel_id=setup["channel_id"]) as tx:
        assert tx.scalar("SELECT count(*) FROM live_sessions WHERE id = :i", i=out["id"]) == 1
    with transaction(channel_id=str(uuid.uuid4())) as tx:  # any other channel: nothing
        assert tx.scalar("SELECT count(*) FROM live_sessions WHERE id = :i", i=out["id"]) == 0
        assert tx.exec("UPDATE live_sessions SET title = 'x' WHERE id = :i", i=out["id"]) == 0
    with transaction() as tx:  # no tenant context: nothing
        assert tx.scalar("SELECT count(*) FROM live_sessions") == 0
