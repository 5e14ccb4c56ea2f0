"""shared.adapters.zoom against the local Zoom stand-in (scripts/local_zoom.py) served in this
process: the wire format of the OAuth and meeting calls, token caching and renewal, and how Zoom
failures map to our provider errors."""

from __future__ import annotations

import base64
import importlib.util
import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from shared.adapters.zoom import (
    LiveProviderError,
    LiveProviderUnavailable,
    ZoomClient,
    zoom_time,
)

ROOT = Path(__file__).resolve().parents[3]


def _load_standin():
    spec = importlib.util.spec_from_file_location(
        "local_zoom_under_test", ROOT / "scripts" / "local_zoom.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def standin():
    mod = _load_standin()
    server = make_server("127.0.0.1", 0, mod.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    mod.base = f"http://127.0.0.1:{server.server_port}"
    yield mod
    server.shutdown()


@pytest.fixture(autouse=True)
def _standin_names_itself(monkeypatch):
    # The test session exports the stack's ZOOM_API_BASE; this in-process stand-in is another.
    monkeypatch.delenv("ZOOM_API_BASE", raising=False)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(standin, clock=None, secret="local_secret") -> ZoomClient:
    return ZoomClient(
        account_id="local_account",
        client_id="local_client",
        client_secret=secret,
        oauth_base=standin.base,
        api_base=standin.base + "/v2",
        clock=clock or Clock(),
    )


def received(standin, since: int = 0) -> list[dict]:
    return requests.get(f"{standin.base}/_local/requests", timeout=5).json()["requests"][since:]


def mark(standin) -> int:
    return len(received(standin))


def meetings(standin, topic: str) -> list[dict]:
    r = requests.get(f"{standin.base}/_local/meetings", params={"topic": topic}, timeout=5)
    return r.json()["meetings"]


def test_token_and_create_requests_have_zooms_wire_format(standin):
    client, topic, start = make_client(standin), f"Shape {uuid.uuid4().hex}", mark(standin)
    paris = timezone(timedelta(hours=2))
    meeting = client.create_meeting(
        topic=topic,
        start_time=datetime(2031, 3, 1, 9, 0, 0, 123456, tzinfo=paris),
        duration_minutes=45,
    )
    token_req, create_req = received(standin, start)
    assert token_req["method"] == "POST" and token_req["path"] == "/oauth/token"
    assert token_req["query"] == {
        "grant_type": "account_credentials",
        "account_id": "local_account",
    }
    basic = base64.b64encode(b"local_client:local_secret").decode()
    assert token_req["authorization"] == f"Basic {basic}"
    assert create_req["method"] == "POST" and create_req["path"] == "/v2/users/me/meetings"
    assert create_req["auth_scheme"] == "Bearer"
    assert create_req["content_type"] == "application/json"
    body = create_req["json"]
    assert body["type"] == 2 and body["topic"] == topic
    assert body["start_time"] == "2031-03-01T07:00:00Z"  # UTC, no fraction, no offset
    assert body["duration"] == 45 and body["timezone"] == "UTC"
    assert body["settings"]["join_before_host"] is False
    # the answer is Zoom's meeting object
    assert meeting["topic"] == topic and meeting["start_time"] == "2031-03-01T07:00:00Z"
    assert isinstance(meeting["id"], int) and meeting["join_url"] and meeting["start_url"]
    assert [m["id"] for m in meetings(standin, topic)] == [meeting["id"]]


def test_the_token_is_cached_until_shortly_before_it_expires(standin):
    clock = Clock()
    client, start = make_client(standin, clock), mark(standin)
    for _ in range(3):
        client.create_meeting(
            topic=f"Cache {uuid.uuid4().hex}",
            start_time=datetime(2031, 1, 1, tzinfo=UTC),
            duration_minutes=30,
        )
    paths = [r["path"] for r in received(standin, start)]
    assert paths.count("/oauth/token") == 1 and len(paths) == 4
    first_token = received(standin, start)[1]["authorization"]

    clock.now += 3599 - 61  # still more than the one-minute margin left
    client.create_meeting(
        topic=f"Cache {uuid.uuid4().hex}",
        start_time=datetime(2031, 1, 1, tzinfo=UTC),
        duration_minutes=30,
    )
    clock.now += 2  # now inside the margin: renew before it can expire in flight
    client.create_meeting(
        topic=f"Cache {uuid.uuid4().hex}",
        start_time=datetime(2031, 1, 1, tzinfo=UTC),
        duration_minutes=30,
    )
    later = received(standin, start)[4:]
    assert [r["path"] for r in later] == [
        "/v2/users/me/meetings",
        "/oauth/token",
        "/v2/users/me/meetings",
    ]
    assert later[0]["authorization"] == first_token
    assert later[2]["authorization"] != first_token


def test_a_token_zoom_no_longer_accepts_is_renewed_once(standin):
    client = make_client(standin)
    client.access_token()
    requests.post(f"{standin.base}/_local/revoke-tokens", timeout=5)
    start, topic = mark(standin), f"Revoked {uuid.uuid4().hex}"
    meeting = client.create_meeting(
        topic=topic, start_time=datetime(2031, 1, 1, tzinfo=UTC), duration_minutes=30
    )
    assert [r["path"] for r in received(standin, start)] == [
        "/v2/users/me/meetings",  # 401, code 124
        "/oauth/token",
        "/v2/users/me/meetings",
    ]
    assert [m["id"] for m in meetings(standin, topic)] == [meeting["id"]]


@pytest.mark.parametrize(
    ("status", "error", "http"),
    [
        (429, LiveProviderUnavailable, 503),
        (500, LiveProviderError, 502),
        (503, LiveProviderError, 502),
    ],
)
def test_zoom_failures_become_provider_errors_and_create_nothing(standin, status, error, http):
    client, topic = make_client(standin), f"Fail {status} {uuid.uuid4().hex}"
    requests.post(
        f"{standin.base}/_local/failures", json={"status": status, "topic": topic}, timeout=5
    )
    with pytest.raises(error) as caught:
        client.create_meeting(
            topic=topic, start_time=datetime(2031, 1, 1, tzinfo=UTC), duration_minutes=30
        )
    assert caught.value.status == http
    if status == 429:
        assert caught.value.extra["retry_after"] >= 1
    assert meetings(standin, topic) == []
    # the failure was used up: the same call now succeeds
    client.create_meeting(
        topic=topic, start_time=datetime(2031, 1, 1, tzinfo=UTC), duration_minutes=30
    )
    assert len(meetings(standin, topic)) == 1


def test_wrong_credentials_are_a_provider_error_not_a_client_error(standin):
    client = make_client(standin, secret="not-the-secret")
    with pytest.raises(LiveProviderError) as caught:
        client.access_token()
    assert caught.value.status == 502


def test_an_unreachable_zoom_is_503():
    client = ZoomClient(
        account_id="a",
        client_id="b",
        client_secret="c",
        oauth_base="http://127.0.0.1:9",  # discard port: nothing listens
        api_base="http://127.0.0.1:9/v2",
    )
    with pytest.raises(LiveProviderUnavailable):
        client.access_token()


def test_delete_and_get_meeting(standin):
    client, topic = make_client(standin), f"Delete {uuid.uuid4().hex}"
    meeting = client.create_meeting(
        topic=topic, start_time=datetime(2031, 1, 1, tzinfo=UTC), duration_minutes=30
    )
    mid = str(meeting["id"])
    assert client.get_meeting(mid)["topic"] == topic
    start = mark(standin)
    assert client.delete_meeting(mid) is True
    assert received(standin, start)[0]["method"] == "DELETE"
    assert received(standin, start)[0]["path"] == f"/v2/meetings/{mid}"
    assert client.delete_meeting(mid) is False  # already gone: Zoom's 404, not an error
    assert client.get_meeting(mid) is None
    assert meetings(standin, topic)[0]["deleted"] is True


def test_update_meeting_patches_only_what_changes(standin):
    client, topic = make_client(standin), f"Move {uuid.uuid4().hex}"
    meeting = client.create_meeting(
        topic=topic, start_time=datetime(2031, 1, 1, tzinfo=UTC), duration_minutes=30
    )
    mid = str(meeting["id"])
    start = mark(standin)
    later = datetime(2031, 1, 2, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    assert client.update_meeting(mid, start_time=later) is True
    [sent] = received(standin, start)
    assert (sent["method"], sent["path"]) == ("PATCH", f"/v2/meetings/{mid}")
    assert sent["json"] == {"start_time": "2031-01-02T08:00:00Z", "timezone": "UTC"}
    assert client.update_meeting(mid, duration_minutes=45, topic=topic + "!") is True
    after = client.get_meeting(mid)
    assert (after["start_time"], after["duration"], after["topic"]) == (
        "2031-01-02T08:00:00Z",
        45,
        topic + "!",
    )
    client.delete_meeting(mid)
    assert client.update_meeting(mid, duration_minutes=50) is False  # Zoom no longer has it


def test_zoom_time_is_utc_seconds_with_z_and_refuses_naive_times():
    assert zoom_time(datetime(2031, 12, 31, 23, 30, 59, 999999, tzinfo=UTC)) == (
        "2031-12-31T23:30:59Z"
    )
    minus5 = timezone(timedelta(hours=-5))
    assert zoom_time(datetime(2031, 12, 31, 20, 0, tzinfo=minus5)) == "2032-01-01T01:00:00Z"
    with pytest.raises(ValueError):
        zoom_time(datetime(2031, 1, 1, 10, 0))


def test_base_urls_must_be_http():
    with pytest.raises(ValueError):
        ZoomClient(account_id="a", client_id="b", client_secret="c", api_base="file:///etc")
