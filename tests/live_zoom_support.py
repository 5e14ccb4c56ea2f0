"""Helpers for live-class tests over HTTP (issue 11): connect a channel's Zoom account through
the stand-in's OAuth dance, upload a recording to the stand-in."""

from __future__ import annotations

from typing import Any

import requests


def connect_zoom(gateway_url: str, channel_id: str, owner: Any, **form: str) -> dict[str, Any]:
    """POST {c}/integrations/zoom, then approve on the stand-in's page (a form POST, as a
    browser would), which redirects to our callback: answers the callback's JSON
    {connected, channel_id, account_id, connected_at}. `account_id=` approves as an account
    the stand-in already has."""
    r = requests.post(
        f"{gateway_url}/v1/channels/{channel_id}/integrations/zoom",
        headers=owner.headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    done = requests.post(r.json()["url"], data=form, timeout=20)  # follows the 302 back to us
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["connected"] is True and body["channel_id"] == channel_id
    return body


def put_recording(zoom_base: str, name: str, data: bytes) -> dict[str, Any]:
    """Store MP4 bytes at the stand-in: {download_url, download_token, file_size}."""
    r = requests.put(f"{zoom_base}/_sim/recordings/{name}", data=data, timeout=60)
    assert r.status_code == 201, r.text
    return r.json()
