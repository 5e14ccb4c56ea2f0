"""The Zoom stand-in plays a whole meeting as Zoom's webhooks (registered on local_zoom's app).

  POST /_sim/meetings/{meeting_id}/play   JSON script (every field optional):
    {
      "participants": [{"email": "...", "name": "...", "from": 0, "to": 45}],
      "minutes": 60,                 # the meeting's length when no steps are given
      "recording": "class.mp4",      # a file PUT to /_sim/recordings/{name} first
      "steps": [                     # instead of the generated script
        {"at": 0, "event": "started"},
        {"at": 2, "event": "joined", "email": "a@x.org", "name": "Ann", "device": "laptop"},
        {"at": 40, "event": "left", "email": "a@x.org", "name": "Ann", "device": "laptop"},
        {"at": 60, "event": "ended"},
        {"at": 61, "event": "recording", "recording": "class.mp4"}
      ],
      "account_id": "...",           # default: the account that created the meeting here
      "webhook_url": "..."           # default: {GATEWAY_URL}/v1/webhooks/live/zoom
    }
  `at` is minutes after the meeting's start, which is placed so the last step is now (the
  meeting happened just before the call). Each step is POSTed in order, signed as Zoom signs
  (`x-zm-signature: v0=HMAC-SHA256(ZOOM_WEBHOOK_SECRET_TOKEN, "v0:{ts}:{body}")`), with Zoom's
  payload shapes (meeting.started / ended, meeting.participant_joined / _left,
  recording.completed with its download_token). Answers 200 {"sent": [{event, status, answer}]}.

So `make dev` shows attendance and a recording lesson appear: schedule a class, upload an MP4
to the stand-in, then play the meeting with the students' emails.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, request

play = Blueprint("local_zoom_play", __name__)
_ZOOM: Any = None  # the local_zoom module (its meetings and recordings)


def register(app: Any, zoom_module: Any) -> None:
    global _ZOOM
    _ZOOM = zoom_module
    app.register_blueprint(play)


def _answer(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def sign(body: bytes, secret: str, ts: int) -> str:
    return (
        "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    )


def _z(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def generated_steps(script: dict[str, Any]) -> list[dict[str, Any]]:
    """started, each participant's join and leave, ended, and the recording if named."""
    minutes = float(script.get("minutes", 60))
    steps: list[dict[str, Any]] = [{"at": 0, "event": "started"}]
    for i, p in enumerate(script.get("participants") or []):
        who = {
            "email": p.get("email"),
            "name": p.get("name") or f"Participant {i + 1}",
            "device": p.get("device") or f"device-{i + 1}",
        }
        steps.append({"at": float(p.get("from", 0)), "event": "joined", **who})
        steps.append({"at": float(p.get("to", minutes)), "event": "left", **who})
    steps.append({"at": minutes, "event": "ended"})
    if script.get("recording"):
        steps.append({"at": minutes + 1, "event": "recording", "recording": script["recording"]})
    return sorted(steps, key=lambda s: s["at"])


def zoom_event(
    step: dict[str, Any],
    *,
    meeting: dict[str, Any],
    account_id: str,
    at: datetime,
    recordings: dict[str, dict[str, Any]],
    base_url: str,
) -> dict[str, Any]:
    """The event Zoom would send for one step."""
    obj: dict[str, Any] = {
        "id": str(meeting["id"]),
        "uuid": meeting.get("uuid") or secrets.token_urlsafe(16),
        "host_id": meeting.get("host_id", ""),
        "topic": meeting.get("topic", ""),
        "type": 2,
        "start_time": meeting.get("start_time", _z(at)),
        "duration": meeting.get("duration", 60),
        "timezone": meeting.get("timezone", "UTC"),
    }
    kind = step["event"]
    top: dict[str, Any] = {}
    if kind == "started":
        name, obj["start_time"] = "meeting.started", _z(at)
    elif kind == "ended":
        name, obj["end_time"] = "meeting.ended", _z(at)
    elif kind in ("joined", "left"):
        name = f"meeting.participant_{kind}"
        device = str(step.get("device") or step.get("email") or step.get("name"))
        obj["participant"] = {
            "user_id": str(abs(hash(device)) % 10**8),
            "participant_uuid": f"{meeting['id']}-{device}",
            "user_name": step.get("name") or "Guest",
            "email": step.get("email") or "",
            "registrant_id": step.get("registrant_id") or "",
            ("join_time" if kind == "joined" else "leave_time"): _z(at),
        }
    elif kind == "recording":
        rec_name = str(step.get("recording"))
        rec = recordings.get(rec_name)
        if rec is None:
            raise KeyError(f"no recording {rec_name!r}: PUT /_sim/recordings/{rec_name} first")
        name, top["download_token"] = "recording.completed", rec["token"]
        obj["recording_files"] = [
            {
                "id": secrets.token_hex(8),
                "meeting_id": obj["uuid"],
                "recording_start": obj["start_time"],
                "recording_end": _z(at),
                "file_type": "MP4",
                "file_extension": "MP4",
                "file_size": rec["size"],
                "download_url": f"{base_url}/rec/download/{rec_name}",
                "status": "completed",
                "recording_type": "shared_screen_with_speaker_view",
            }
        ]
        obj["total_size"] = rec["size"]
        obj["recording_count"] = 1
    else:
        raise KeyError(f"unknown step event {kind!r}")
    return {
        "event": name,
        "event_ts": int(at.timestamp() * 1000),
        "payload": {"account_id": account_id, "object": obj},
        **top,
    }


def post_signed(url: str, event: dict[str, Any], secret: str) -> tuple[int, Any]:
    body = json.dumps(event).encode()
    ts = int(time.time())
    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "x-zm-request-timestamp": str(ts),
            "x-zm-signature": sign(body, secret, ts),
            "x-zm-trackingid": secrets.token_hex(8),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")[:500]


@play.post("/_sim/meetings/<meeting_id>/play")
def play_meeting(meeting_id: str) -> Response:
    zoom = _ZOOM
    script = request.get_json(silent=True) or {}
    if not isinstance(script, dict):
        return _answer({"error": "the script is a JSON object"}, 400)
    with zoom._lock:
        meeting = dict(zoom.MEETINGS.get(str(meeting_id)) or {})
        recordings = dict(zoom.RECORDINGS)
    if not meeting:
        return _answer({"error": f"no meeting {meeting_id} at the stand-in"}, 404)
    account_id = script.get("account_id") or meeting.get("account_id") or ""
    steps = script.get("steps") or generated_steps(script)
    last = max(float(s.get("at", 0)) for s in steps)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=last)
    url = script.get("webhook_url") or (
        os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080").rstrip("/")
        + "/v1/webhooks/live/zoom"
    )
    secret = os.environ.get("ZOOM_WEBHOOK_SECRET_TOKEN", "zoom_local")
    sent = []
    for step in steps:
        at = start + timedelta(minutes=float(step.get("at", 0)))
        try:
            event = zoom_event(
                step,
                meeting=meeting,
                account_id=account_id,
                at=at,
                recordings=recordings,
                base_url=zoom.base_url(),
            )
        except KeyError as e:
            return _answer({"error": str(e.args[0]), "sent": sent}, 400)
        status, answer = post_signed(url, event, secret)
        sent.append({"event": event["event"], "status": status, "answer": answer})
    return _answer({"meeting_id": str(meeting_id), "account_id": account_id, "sent": sent})
