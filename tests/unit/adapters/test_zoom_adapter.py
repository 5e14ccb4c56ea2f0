"""shared.adapters.zoom against the local Zoom stand-in (scripts/local_zoom.py) served in this
process: the OAuth authorization-code dance, refresh rotation and revocation, the wire format of
the meeting calls, renewal on 401, recording downloads, and how Zoom failures map to our
provider errors."""

from __future__ import annotations

import base64
import importlib.util
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from shared.adapters.zoom import (
    DownloadRefused,
    GrantRevoked,
    LiveProviderError,
    LiveProviderUnavailable,
    ZoomOAuthApp,
    open_download,
    zoom_time,
)

ROOT = Path(__file__).resolve().parents[3]


def _load_standin():
    spec = importlib.util.spec_from_file_location(
        "local_zoom_under_test", ROOT / "scripts" / "local_zoom.py"
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # the stand-in hands itself to its meeting player
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


REDIRECT = "http://127.0.0.1:9/v1/integrations/zoom/callback"


def make_app(standin, secret="local_secret") -> ZoomOAuthApp:
    return ZoomOAuthApp(
        client_id="local_client",
        client_secret=secret,
        redirect_uri=REDIRECT,
        oauth_base=standin.base,
        api_base=standin.base + "/v2",
    )


def approve(standin, app: ZoomOAuthApp, state: str = "st", account_id: str = "") -> str:
    """The owner clicks Allow on the stand-in's page: answers the code of the redirect."""
    r = requests.post(
        app.authorize_url(state), data={"account_id": account_id}, allow_redirects=False, timeout=5
    )
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    query = dict(p.split("=", 1) for p in location.split("?", 1)[1].split("&"))
    assert query["state"] == state
    return query["code"]


class Tokens:
    """A token source as the live service keeps one: renewed() refreshes at Zoom."""

    def __init__(self, app: ZoomOAuthApp, grant) -> None:
        self.app, self.grant, self.renewals = app, grant, 0

    def token(self) -> str:
        return self.grant.access_token

    def renewed(self, stale: str) -> str:
        self.renewals += 1
        self.grant = self.app.refresh(self.grant.refresh_token)
        return self.grant.access_token


def connected(standin, account_id: str = ""):
    app = make_app(standin)
    grant = app.exchange_code(approve(standin, app, account_id=account_id))
    tokens = Tokens(app, grant)
    return app, tokens, app.meetings(tokens)


def received(standin, since: int = 0) -> list[dict]:
    return requests.get(f"{standin.base}/_local/requests", timeout=5).json()["requests"][since:]


def mark(standin) -> int:
    return len(received(standin))


def meetings(standin, topic: str) -> list[dict]:
    r = requests.get(f"{standin.base}/_local/meetings", params={"topic": topic}, timeout=5)
    return r.json()["meetings"]


def test_the_authorization_code_dance_has_zooms_wire_format(standin):
    app = make_app(standin)
    url = app.authorize_url("signed-state")
    assert url.startswith(standin.base + "/oauth/authorize?")
    assert "response_type=code" in url and "client_id=local_client" in url
    assert "state=signed-state" in url and "redirect_uri=http%3A%2F%2F127.0.0.1" in url
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and "<form" in page.text
    code = approve(standin, app, "signed-state")
    start = mark(standin)
    grant = app.exchange_code(code)
    [req] = received(standin, start)
    assert (req["method"], req["path"]) == ("POST", "/oauth/token")
    basic = base64.b64encode(b"local_client:local_secret").decode()
    assert req["authorization"] == f"Basic {basic}"
    assert req["content_type"] == "application/x-www-form-urlencoded"
    assert grant.access_token and grant.refresh_token and grant.expires_in == 3599
    assert grant.access_token not in repr(grant)  # never in a log line
    me = app.me(grant.access_token)
    assert me["account_id"] and me["id"]
    # a code works once
    with pytest.raises(GrantRevoked) as caught:
        app.exchange_code(code)
    assert caught.value.status == 409


def test_refresh_rotates_and_revoke_ends_the_grant(standin):
    app = make_app(standin)
    first = app.exchange_code(approve(standin, app))
    account = app.me(first.access_token)["account_id"]
    second = app.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert app.me(second.access_token)["account_id"] == account
    with pytest.raises(GrantRevoked):  # Zoom rotated it: the old refresh token is dead
        app.refresh(first.refresh_token)
    with pytest.raises(LiveProviderError):  # and so is the old access token
        app.me(first.access_token)
    assert app.revoke(second.access_token) is True
    with pytest.raises(LiveProviderError):
        app.me(second.access_token)
    with pytest.raises(GrantRevoked):
        app.refresh(second.refresh_token)
    assert app.revoke(second.access_token) is True  # revoking twice is fine


def test_create_requests_have_zooms_wire_format(standin):
    _, _, client = connected(standin)
    topic, start = f"Shape {uuid.uuid4().hex}", mark(standin)
    paris = timezone(timedelta(hours=2))
    meeting = client.create_meeting(
        topic=topic,
        start_time=datetime(2031, 3, 1, 9, 0, 0, 123456, tzinfo=paris),
        duration_minutes=45,
        agenda="ref: x",
    )
    [create_req] = received(standin, start)
    assert create_req["method"] == "POST" and create_req["path"] == "/v2/users/me/meetings"
    assert create_req["auth_scheme"] == "Bearer"
    assert create_req["content_type"] == "application/json"
    body = create_req["json"]
    assert body["type"] == 2 and body["topic"] == topic and body["agenda"] == "ref: x"
    assert body["start_time"] == "2031-03-01T07:00:00Z"  # UTC, no fraction, no offset
    assert body["duration"] == 45 and body["timezone"] == "UTC"
    assert body["settings"]["join_before_host"] is False
    assert meeting["topic"] == topic and meeting["start_time"] == "2031-03-01T07:00:00Z"
    assert isinstance(meeting["id"], int) and meeting["join_url"]
    assert [m["id"] for m in meetings(standin, topic)] == [meeting["id"]]
    listed = client.list_meetings()
    assert [m["agenda"] for m in listed if m["id"] == meeting["id"]] == ["ref: x"]


def test_meetings_belong_to_their_account(standin):
    _, _, mine = connected(standin)
    _, _, theirs = connected(standin)
    meeting = mine.create_meeting(
        topic=f"Mine {uuid.uuid4().hex}",
        start_time=datetime(2031, 1, 1, tzinfo=UTC),
        duration_minutes=30,
    )
    mid = str(meeting["id"])
    assert theirs.get_meeting(mid) is None
    assert theirs.delete_meeting(mid) is False
    assert mid not in {str(m["id"]) for m in theirs.list_meetings()}
    assert mine.get_meeting(mid)["start_url"]


def test_the_start_url_is_fresh_on_every_read(standin):
    _, _, client = connected(standin)
    meeting = client.create_meeting(
        topic=f"Zak {uuid.uuid4().hex}",
        start_time=datetime(2031, 1, 1, tzinfo=UTC),
        duration_minutes=30,
    )
    one = client.get_meeting(str(meeting["id"]))["start_url"]
    two = client.get_meeting(str(meeting["id"]))["start_url"]
    assert one != two and "zak=" in one


def test_a_token_zoom_no_longer_accepts_is_renewed_once(standin):
    _, tokens, client = connected(standin)
    requests.post(f"{standin.base}/_local/revoke-tokens", timeout=5)
    start, topic = mark(standin), f"Revoked {uuid.uuid4().hex}"
    meeting = client.create_meeting(
        topic=topic, start_time=datetime(2031, 1, 1, tzinfo=UTC), duration_minutes=30
    )
    assert [r["path"] for r in received(standin, start)] == [
        "/v2/users/me/meetings",  # 401, code 124
        "/oauth/token",  # the token source refreshed
        "/v2/users/me/meetings",
    ]
    assert tokens.renewals == 1
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
    _, _, client = connected(standin)
    topic = f"Fail {status} {uuid.uuid4().hex}"
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
    client.create_meeting(
        topic=topic, start_time=datetime(2031, 1, 1, tzinfo=UTC), duration_minutes=30
    )
    assert len(meetings(standin, topic)) == 1


def test_wrong_app_credentials_are_a_provider_error_not_a_client_error(standin):
    app = make_app(standin)
    code = approve(standin, app)
    with pytest.raises(LiveProviderError) as caught:
        make_app(standin, secret="not-the-secret").exchange_code(code)
    assert caught.value.status == 502


def test_an_unreachable_zoom_is_503():
    app = ZoomOAuthApp(
        client_id="b",
        client_secret="c",
        redirect_uri=REDIRECT,
        oauth_base="http://127.0.0.1:9",  # discard port: nothing listens
        api_base="http://127.0.0.1:9/v2",
    )
    with pytest.raises(LiveProviderUnavailable):
        app.refresh("r")


def test_delete_and_get_meeting(standin):
    _, _, client = connected(standin)
    topic = f"Delete {uuid.uuid4().hex}"
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
    _, _, client = connected(standin)
    topic = f"Move {uuid.uuid4().hex}"
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


def test_a_recording_downloads_only_with_its_token_and_resumes_by_range(standin):
    data = bytes(range(256)) * 4096  # 1 MiB
    put = requests.put(
        f"{standin.base}/_sim/recordings/class-{uuid.uuid4().hex}.mp4", data=data, timeout=10
    )
    assert put.status_code == 201
    url, token = put.json()["download_url"], put.json()["download_token"]
    with open_download(url, token) as d:
        assert d.total_bytes == len(data)
        got = b"".join(iter(lambda: d.read(100_000), b""))
    assert got == data
    with open_download(url, token, start=1000) as d:
        assert d.total_bytes == len(data)
        assert d.read(len(data)) == data[1000:]
    assert requests.get(url, params={"access_token": token}, timeout=5).content == data
    for bad in ("", "nope"):
        with pytest.raises(DownloadRefused), open_download(url, bad):
            pass
    assert requests.get(url, timeout=5).status_code == 401


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
        ZoomOAuthApp(client_id="b", client_secret="c", redirect_uri=REDIRECT, api_base="file:///e")
