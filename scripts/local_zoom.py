"""Local Zoom stand-in (local mode: no ZOOM_* credentials). A WSGI `app` the stack serves at
ZOOM_API_BASE; shared.adapters.zoom sends it exactly what it would send to Zoom.

It speaks Zoom's wire format for the calls the project makes:
  POST /oauth/token?grant_type=account_credentials&account_id=…   (Basic client_id:secret)
       -> {"access_token", "token_type": "bearer", "expires_in": 3599, "scope", "api_url"}
       bad client -> 400 {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
  POST /v2/users/{userId}/meetings   -> 201 meeting object (id, uuid, host_id, host_email, topic,
       type, status, start_time, duration, timezone, agenda, created_at, start_url, join_url,
       password, h323_password, pstn_password, encrypted_password, settings, pre_schedule)
       invalid fields -> 400 {"code": 300, "message": "Validation Failed.", "errors": [...]}
  GET|DELETE /v2/meetings/{meetingId} -> 200 meeting / 204; unknown -> 404 {"code": 3001, ...}
  PATCH /v2/meetings/{meetingId}      -> 204 (only the fields sent change); invalid -> 400
  A missing, unknown or revoked bearer token -> 401 {"code": 124, "message": "Invalid access
       token."}
  GET /j/{meetingId}, /s/{meetingId}: tiny pages behind the join and start links.

Local only (tests drive it):
  POST /_local/failures {"status": 429|500|…, "method"?, "path"?, "topic"?, "times"?: 1}
       the next `times` matching requests answer `status` with Zoom's error body (a 429 carries
       Retry-After); `topic` limits a create failure to meetings with that topic, so tests
       running side by side do not trip each other.
  POST /_local/revoke-tokens   every issued token stops working (Zoom answers 401, code 124)
  GET  /_local/meetings?topic=  every meeting ever created (deleted ones with "deleted": true)
  GET  /_local/requests         what was received: method, path, query, auth scheme, JSON body
State lives in this process's memory: serve it from one process (threads are fine).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import os
import re
import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, request

app = Flask("local_zoom")
_lock = threading.RLock()
MEETINGS: dict[str, dict[str, Any]] = {}  # meeting id (str) -> meeting object
DELETED: set[str] = set()
TOKENS: dict[str, float] = {}  # access token -> expiry (unix time)
FAILURES: list[dict[str, Any]] = []
REQUESTS: list[dict[str, Any]] = []
TOKEN_TTL = 3599
HOST_ID = "z8dsdsdsdsdCfp8uQ"
HOST_EMAIL = "host@zoom.local"
_GMT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_LOCAL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def credentials() -> tuple[str, str, str]:
    """What the stand-in accepts: the configured ones, or the adapter's local placeholders."""
    return (
        os.environ.get("ZOOM_ACCOUNT_ID") or "local_account",
        os.environ.get("ZOOM_CLIENT_ID") or "local_client",
        os.environ.get("ZOOM_CLIENT_SECRET") or "local_secret",
    )


def base_url() -> str:
    return (os.environ.get("ZOOM_API_BASE") or request.host_url).rstrip("/")


def now_z() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


def zoom_error(status: int, code: int, message: str, **extra: Any) -> Response:
    headers = {}
    if status == 429:
        # Zoom names the limit that was hit; a daily limit also says when to come back.
        headers = {"X-RateLimit-Category": "Light", "X-RateLimit-Type": "QPS", "Retry-After": "1"}
    return answer({"code": code, "message": message, **extra}, status, headers)


# -- bookkeeping and failure injection --------------------------------------------------------
@app.before_request
def _record_and_maybe_fail() -> Response | None:
    if request.path.startswith("/_local/"):
        return None
    body = request.get_json(silent=True) if request.is_json else None
    auth = request.headers.get("Authorization", "")
    with _lock:
        REQUESTS.append(
            {
                "method": request.method,
                "path": request.path,
                "query": request.args.to_dict(),
                "auth_scheme": auth.split(" ", 1)[0] if auth else None,
                "authorization": auth,
                "content_type": request.headers.get("Content-Type"),
                "json": body,
                "at": time.time(),
            }
        )
        del REQUESTS[:-1000]  # a long `make dev` keeps only the recent ones
        for rule in FAILURES:
            if rule["times"] <= 0:
                continue
            if rule.get("method") and rule["method"].upper() != request.method:
                continue
            if rule.get("path") and not re.fullmatch(rule["path"], request.path):
                continue
            topic = body.get("topic") if isinstance(body, dict) else None
            if rule.get("topic") and topic != rule["topic"]:
                continue
            rule["times"] -= 1
            status = int(rule["status"])
            if status == 429:
                return zoom_error(
                    429,
                    429,
                    "You have reached the maximum per-second rate limit for this API. "
                    "Try again later.",
                )
            return zoom_error(status, status, "Internal Error" if status >= 500 else "Error")
    return None


@app.post("/_local/failures")
def add_failure() -> Response:
    rule = request.get_json(force=True) or {}
    rule = {
        "status": int(rule.get("status", 500)),
        "method": rule.get("method", "POST"),
        "path": rule.get("path", r"/v2/users/[^/]+/meetings"),
        "topic": rule.get("topic"),
        "times": int(rule.get("times", 1)),
    }
    with _lock:
        FAILURES.append(rule)
    return answer(rule, 201)


@app.post("/_local/revoke-tokens")
def revoke_tokens() -> Response:
    with _lock:
        TOKENS.clear()
    return answer({"revoked": True})


@app.get("/_local/meetings")
def list_meetings() -> Response:
    topic = request.args.get("topic")
    with _lock:
        items = [
            {**m, "deleted": str(m["id"]) in DELETED}
            for m in MEETINGS.values()
            if topic is None or m["topic"] == topic
        ]
    return answer({"meetings": items})


@app.get("/_local/requests")
def list_requests() -> Response:
    with _lock:
        return answer({"requests": list(REQUESTS)})


# -- OAuth ------------------------------------------------------------------------------------
@app.post("/oauth/token")
def token() -> Response:
    account_id, client_id, client_secret = credentials()
    if request.args.get("grant_type") != "account_credentials":
        return answer({"reason": "Unsupported grant type", "error": "unsupported_grant_type"}, 400)
    auth = request.headers.get("Authorization", "")
    try:
        scheme, _, encoded = auth.partition(" ")
        given = base64.b64decode(encoded, validate=True).decode() if scheme == "Basic" else ""
    except (binascii.Error, UnicodeDecodeError):
        given = ""
    if given != f"{client_id}:{client_secret}":
        bad = {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
        return answer(bad, 400)
    if request.args.get("account_id") != account_id:
        return answer({"reason": "Invalid account_id", "error": "invalid_request"}, 400)
    access = "local." + secrets.token_urlsafe(24)
    with _lock:
        TOKENS[access] = time.time() + TOKEN_TTL
    return answer(
        {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": TOKEN_TTL,
            "scope": "meeting:write:meeting:admin meeting:read:meeting:admin "
            "meeting:delete:meeting:admin",
            "api_url": base_url(),
        }
    )


def _bearer_ok() -> bool:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    with _lock:
        return scheme == "Bearer" and TOKENS.get(value, 0) > time.time()


def _invalid_token() -> Response:
    return zoom_error(401, 124, "Invalid access token.")


# -- meetings ---------------------------------------------------------------------------------
def _validate(body: Any) -> list[dict[str, str]]:
    if not isinstance(body, dict):
        return [{"field": "body", "message": "Request Body should be a valid JSON object."}]
    errors = []
    topic = body.get("topic", "")
    if not isinstance(topic, str) or len(topic) > 200:
        errors.append({"field": "topic", "message": "Invalid field."})
    if body.get("type", 2) not in (1, 2, 3, 8):
        errors.append({"field": "type", "message": "Invalid field."})
    if body.get("type", 2) in (2, 8):
        start = body.get("start_time")
        ok = isinstance(start, str) and (
            _GMT.match(start) or (_LOCAL_TIME.match(start) and body.get("timezone"))
        )
        if not ok:
            errors.append({"field": "start_time", "message": "Invalid field."})
    duration = body.get("duration", 60)
    if not isinstance(duration, int) or isinstance(duration, bool) or duration < 0:
        errors.append({"field": "duration", "message": "Invalid field."})
    return errors


@app.post("/v2/users/<user_id>/meetings")
def create_meeting(user_id: str) -> Response:
    if not _bearer_ok():
        return _invalid_token()
    body = request.get_json(silent=True)
    errors = _validate(body)
    if errors:
        return zoom_error(400, 300, "Validation Failed.", errors=errors)
    with _lock:
        meeting_id = secrets.randbelow(9 * 10**10) + 10**10  # Zoom ids: 10-11 digit numbers
        while str(meeting_id) in MEETINGS:
            meeting_id += 1
    pwd = secrets.token_hex(3)
    encrypted = secrets.token_urlsafe(24)
    base = base_url()
    settings = {
        "host_video": False,
        "participant_video": False,
        "join_before_host": False,
        "mute_upon_entry": False,
        "waiting_room": False,
        "approval_type": 2,
        "audio": "both",
        "auto_recording": "none",
        "email_notification": True,
        "meeting_authentication": False,
        **(body.get("settings") or {}),
    }
    meeting = {
        "uuid": base64.b64encode(secrets.token_bytes(16)).decode(),
        "id": meeting_id,
        "host_id": HOST_ID,
        "host_email": HOST_EMAIL,
        "assistant_id": "",
        "topic": body.get("topic", "Zoom meeting"),
        "type": body.get("type", 2),
        "status": "waiting",
        "start_time": body.get("start_time") or now_z(),
        "duration": body.get("duration", 60),
        "timezone": body.get("timezone") or "UTC",
        "agenda": body.get("agenda", ""),
        "created_at": now_z(),
        "start_url": f"{base}/s/{meeting_id}?zak={secrets.token_urlsafe(32)}",
        "join_url": f"{base}/j/{meeting_id}?pwd={encrypted}",
        "password": pwd,
        "h323_password": pwd,
        "pstn_password": pwd,
        "encrypted_password": encrypted,
        "settings": settings,
        "pre_schedule": bool(body.get("pre_schedule", False)),
    }
    with _lock:
        MEETINGS[str(meeting_id)] = meeting
    return answer(meeting, 201)


def _meeting_or_404(meeting_id: str) -> dict[str, Any] | Response:
    with _lock:
        meeting = MEETINGS.get(meeting_id)
        if meeting is None or meeting_id in DELETED:
            return zoom_error(404, 3001, f"Meeting does not exist: {meeting_id}.")
        return meeting


@app.get("/v2/meetings/<meeting_id>")
def get_meeting(meeting_id: str) -> Response:
    if not _bearer_ok():
        return _invalid_token()
    found = _meeting_or_404(meeting_id)
    return found if isinstance(found, Response) else answer(found)


@app.patch("/v2/meetings/<meeting_id>")
def update_meeting(meeting_id: str) -> Response:
    if not _bearer_ok():
        return _invalid_token()
    found = _meeting_or_404(meeting_id)
    if isinstance(found, Response):
        return found
    body = request.get_json(silent=True)
    errors = _validate({"type": found["type"], **body} if isinstance(body, dict) else body)
    if isinstance(body, dict) and "start_time" not in body and found["type"] in (2, 8):
        errors = [e for e in errors if e["field"] != "start_time"]
    if errors:
        return zoom_error(400, 300, "Validation Failed.", errors=errors)
    with _lock:
        for field in ("topic", "start_time", "duration", "timezone", "agenda"):
            if field in body:
                found[field] = body[field]
    return Response(status=204)


@app.delete("/v2/meetings/<meeting_id>")
def delete_meeting(meeting_id: str) -> Response:
    if not _bearer_ok():
        return _invalid_token()
    found = _meeting_or_404(meeting_id)
    if isinstance(found, Response):
        return found
    with _lock:
        DELETED.add(meeting_id)
    return Response(status=204)


# -- the links --------------------------------------------------------------------------------
@app.get("/j/<meeting_id>")
@app.get("/s/<meeting_id>")
def meeting_page(meeting_id: str) -> Response:
    with _lock:
        meeting = MEETINGS.get(meeting_id)
    if meeting is None or meeting_id in DELETED:
        return Response("<h1>This meeting does not exist.</h1>", status=404, mimetype="text/html")
    role = "host" if request.path.startswith("/s/") else "participant"
    return Response(
        f"<h1>{html.escape(meeting['topic'])}</h1><p>Local Zoom stand-in: you joined as "
        f"{role}. Starts {html.escape(meeting['start_time'])}.</p>",
        mimetype="text/html",
    )
