"""Local Zoom stand-in (local mode: no ZOOM_* credentials). A WSGI `app` the stack serves at
ZOOM_API_BASE; shared.adapters.zoom sends it exactly what it would send to Zoom.

It speaks Zoom's wire format for the calls the project makes. OAuth (authorization code, the
platform's one Zoom app that each channel's own account installs):
  GET  /oauth/authorize?response_type=code&client_id=…&redirect_uri=…&state=…
       -> an HTML page standing in for Zoom's consent screen; a form POST to the same URL
       (no body needed; `account_id` optional: approve as that existing account) approves as a
       new Zoom account and redirects (302) to redirect_uri?code=…&state=…
  POST /oauth/token  (Basic client_id:secret, form body)
       grant_type=authorization_code&code=…&redirect_uri=…  (a code works once, 5 minutes)
       grant_type=refresh_token&refresh_token=…   (rotates: the old refresh token dies)
       -> {"access_token", "token_type": "bearer", "refresh_token", "expires_in": 3599,
           "scope", "api_url"}; bad client -> 400 invalid_client; bad code/refresh token ->
           400 {"reason": "Invalid Token!", "error": "invalid_grant"}
  POST /oauth/revoke?token=…  (Basic) -> {"status": "success"}: the whole grant stops working
  GET  /v2/users/me -> {id, account_id, email, first_name, last_name, type, ...}
  GET  /v2/users/{userId}/meetings?type=scheduled -> {page_size, total_records,
       next_page_token, meetings: [...]}: the token's account's live meetings
Meetings belong to the account whose token created them; another account's token gets 404.
Recordings (what a recording.completed event points at):
  PUT  /_sim/recordings/{name}   MP4 bytes (streamed to disk) -> 201 {download_url,
       download_token}
  GET  {download_url}  only with `Authorization: Bearer {download_token}` or
       `?access_token=`; streamed from disk, Range requests answered 206 (resumed downloads)
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
import contextlib
import html
import json
import os
import re
import secrets
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, redirect, request, send_file

app = Flask("local_zoom")
_lock = threading.RLock()
MEETINGS: dict[str, dict[str, Any]] = {}  # meeting id (str) -> meeting object
DELETED: set[str] = set()
TOKENS: dict[str, float] = {}  # access token -> expiry (unix time)
GRANTS: dict[str, dict[str, Any]] = {}  # access or refresh token -> its grant
CODES: dict[str, dict[str, Any]] = {}  # authorization code -> account, redirect, expiry
ACCOUNTS: dict[str, dict[str, Any]] = {}  # account id -> its one user
RECORDINGS: dict[str, dict[str, Any]] = {}  # name -> {"path", "token", "size"}
RECORDINGS_DIR = os.environ.get("ZOOM_STANDIN_RECORDINGS_DIR") or tempfile.mkdtemp(
    prefix="local_zoom_recordings_"
)
CODE_TTL = 300
FAILURES: list[dict[str, Any]] = []
REQUESTS: list[dict[str, Any]] = []
TOKEN_TTL = 3599
HOST_ID = "z8dsdsdsdsdCfp8uQ"
HOST_EMAIL = "host@zoom.local"
_GMT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_LOCAL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def credentials() -> tuple[str, str]:
    """The app credentials accepted: the configured ones, or the adapter's local placeholders."""
    return (
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
    if request.path.startswith(("/_local/", "/_sim/")):
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
                "range": request.headers.get("Range"),
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
    """Every access token stops working (refresh tokens still do: as after Zoom expires them)."""
    with _lock:
        TOKENS.clear()
    return answer({"revoked": True})


@app.get("/_local/accounts")
def list_accounts() -> Response:
    """Accounts approved so far, with how many of their grants are live."""
    with _lock:
        items = [
            {
                **a,
                "live_grants": len(
                    {
                        id(g)
                        for g in GRANTS.values()
                        if g["account_id"] == a["account_id"] and not g["revoked"]
                    }
                ),
            }
            for a in ACCOUNTS.values()
        ]
    return answer({"accounts": items})


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
def _client_ok() -> bool:
    client_id, client_secret = credentials()
    auth = request.headers.get("Authorization", "")
    try:
        scheme, _, encoded = auth.partition(" ")
        given = base64.b64decode(encoded, validate=True).decode() if scheme == "Basic" else ""
    except (binascii.Error, UnicodeDecodeError):
        given = ""
    return secrets.compare_digest(given, f"{client_id}:{client_secret}")


def _bad_client() -> Response:
    return answer({"reason": "Invalid client_id or client_secret", "error": "invalid_client"}, 400)


def _invalid_grant() -> Response:
    return answer({"reason": "Invalid Token!", "error": "invalid_grant"}, 400)


_AUTHORIZE_PAGE = """<!doctype html><title>Zoom (local stand-in)</title>
<h1>Allow the platform to use your Zoom account?</h1>
<p>Local stand-in for Zoom's consent screen. Approving creates a Zoom account here.</p>
<form method="post"><button type="submit">Allow</button></form>"""


@app.route("/oauth/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    client_id, _ = credentials()
    args = request.args
    redirect_uri = args.get("redirect_uri", "")
    if args.get("response_type") != "code" or args.get("client_id") != client_id:
        return Response("<h1>Invalid client_id or response_type</h1>", 400, mimetype="text/html")
    if not redirect_uri.startswith(("http://", "https://")):
        return Response("<h1>Invalid redirect_uri</h1>", 400, mimetype="text/html")
    if request.method == "GET":
        return Response(_AUTHORIZE_PAGE, mimetype="text/html")
    account_id = request.form.get("account_id") or ""
    with _lock:
        if account_id not in ACCOUNTS:
            account_id = account_id or secrets.token_urlsafe(16)
            user_id = secrets.token_urlsafe(16)
            ACCOUNTS[account_id] = {
                "account_id": account_id,
                "id": user_id,
                "email": f"host-{user_id[:8].lower()}@zoom.local",
            }
        code = secrets.token_urlsafe(24)
        CODES[code] = {
            "account_id": account_id,
            "redirect_uri": redirect_uri,
            "expires": time.time() + CODE_TTL,
        }
    sep = "&" if "?" in redirect_uri else "?"
    query = urlencode({"code": code, "state": args.get("state", "")})
    return redirect(f"{redirect_uri}{sep}{query}", code=302)


def _issue(account_id: str) -> dict[str, Any]:
    """A new access + refresh token pair of one grant (called under _lock)."""
    access = "local." + secrets.token_urlsafe(24)
    refresh = "local-r." + secrets.token_urlsafe(24)
    grant = {"account_id": account_id, "access": access, "refresh": refresh, "revoked": False}
    TOKENS[access] = time.time() + TOKEN_TTL
    GRANTS[access] = grant
    GRANTS[refresh] = grant
    return {
        "access_token": access,
        "token_type": "bearer",
        "refresh_token": refresh,
        "expires_in": TOKEN_TTL,
        "scope": "meeting:write:meeting meeting:read:meeting meeting:delete:meeting "
        "user:read:user cloud_recording:read:recording",
        "api_url": base_url(),
    }


@app.post("/oauth/token")
def token() -> Response:
    if not _client_ok():
        return _bad_client()
    form = request.form
    grant_type = form.get("grant_type") or request.args.get("grant_type")
    with _lock:
        if grant_type == "authorization_code":
            found = CODES.pop(form.get("code", ""), None)  # a code works once
            if found is None or found["expires"] < time.time():
                return _invalid_grant()
            if form.get("redirect_uri") != found["redirect_uri"]:
                return answer({"reason": "Redirect URI mismatch.", "error": "invalid_request"}, 400)
            return answer(_issue(found["account_id"]))
        if grant_type == "refresh_token":
            old = GRANTS.get(form.get("refresh_token", ""))
            if old is None or old["revoked"] or old["refresh"] != form.get("refresh_token"):
                return _invalid_grant()
            # Zoom rotates: the old pair stops working, the new one belongs to the same grant.
            old["revoked"] = True
            TOKENS.pop(old["access"], None)
            return answer(_issue(old["account_id"]))
    return answer({"reason": "Unsupported grant type", "error": "unsupported_grant_type"}, 400)


@app.post("/oauth/revoke")
def revoke() -> Response:
    if not _client_ok():
        return _bad_client()
    with _lock:
        grant = GRANTS.get(request.args.get("token", ""))
        if grant is None or grant["revoked"]:
            return answer({"reason": "Invalid Token!", "error": "invalid_request"}, 400)
        grant["revoked"] = True
        TOKENS.pop(grant["access"], None)
    return answer({"status": "success"})


def _account() -> str | None:
    """The account of the request's bearer token, None when it is missing or dead."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    with _lock:
        if scheme != "Bearer" or TOKENS.get(value, 0) <= time.time():
            return None
        grant = GRANTS.get(value)
        return grant["account_id"] if grant and not grant["revoked"] else None


@app.get("/v2/users/me")
def users_me() -> Response:
    account_id = _account()
    if account_id is None:
        return _invalid_token()
    with _lock:
        user = ACCOUNTS[account_id]
    return answer(
        {
            "id": user["id"],
            "account_id": account_id,
            "email": user["email"],
            "first_name": "Local",
            "last_name": "Host",
            "type": 2,
            "role_name": "Owner",
            "status": "active",
        }
    )


def _bearer_ok() -> bool:
    return _account() is not None


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


@app.get("/v2/users/<user_id>/meetings")
def list_account_meetings(user_id: str) -> Response:
    account_id = _account()
    if account_id is None:
        return _invalid_token()
    with _lock:
        items = [
            {
                k: m.get(k)
                for k in (
                    "uuid",
                    "id",
                    "host_id",
                    "topic",
                    "type",
                    "start_time",
                    "duration",
                    "timezone",
                    "agenda",
                    "created_at",
                    "join_url",
                )
            }
            for mid, m in MEETINGS.items()
            if m["account_id"] == account_id and mid not in DELETED
        ]
    return answer(
        {
            "page_size": 300,
            "total_records": len(items),
            "next_page_token": "",
            "meetings": items,
        }
    )


@app.post("/v2/users/<user_id>/meetings")
def create_meeting(user_id: str) -> Response:
    account_id = _account()
    if account_id is None:
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
    with _lock:
        host = ACCOUNTS.get(account_id) or {"id": HOST_ID, "email": HOST_EMAIL}
    meeting = {
        "uuid": base64.b64encode(secrets.token_bytes(16)).decode(),
        "id": meeting_id,
        "host_id": host["id"],
        "host_email": host["email"],
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
        MEETINGS[str(meeting_id)] = {**meeting, "account_id": account_id}
    return answer(meeting, 201)


def _meeting_or_404(meeting_id: str) -> dict[str, Any] | Response:
    """The meeting, if it exists and belongs to the token's account (Zoom answers another
    account's meeting as not found)."""
    account_id = _account()
    with _lock:
        meeting = MEETINGS.get(meeting_id)
        if meeting is None or meeting_id in DELETED or meeting["account_id"] != account_id:
            return zoom_error(404, 3001, f"Meeting does not exist: {meeting_id}.")
        return meeting


@app.get("/v2/meetings/<meeting_id>")
def get_meeting(meeting_id: str) -> Response:
    if not _bearer_ok():
        return _invalid_token()
    found = _meeting_or_404(meeting_id)
    if isinstance(found, Response):
        return found
    # Zoom mints a fresh host key (ZAK) into start_url on every read; it expires in 2 hours.
    fresh = f"{base_url()}/s/{meeting_id}?zak={secrets.token_urlsafe(32)}"
    shown = {k: v for k, v in found.items() if k != "account_id"}
    return answer({**shown, "start_url": fresh})


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


# -- recordings --------------------------------------------------------------------------------
@app.put("/_sim/recordings/<name>")
def put_recording(name: str) -> Response:
    """Store the body as a recording (streamed to disk: a 1 GB file is never in memory)."""
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,200}", name):
        return answer({"error": "name: letters, digits, dot, dash, underscore"}, 400)
    path = os.path.join(RECORDINGS_DIR, secrets.token_hex(8) + "-" + name)
    size = 0
    with open(path, "wb") as fh:
        while True:
            piece = request.stream.read(1024 * 1024)
            if not piece:
                break
            fh.write(piece)
            size += len(piece)
    token = secrets.token_urlsafe(32)
    with _lock:
        old = RECORDINGS.get(name)
        RECORDINGS[name] = {"path": path, "token": token, "size": size, "downloads": 0}
    if old:
        with contextlib.suppress(OSError):
            os.remove(old["path"])
    return answer(
        {
            "download_url": f"{base_url()}/rec/download/{name}",
            "download_token": token,
            "file_size": size,
        },
        201,
    )


@app.get("/rec/download/<name>")
def download_recording(name: str) -> Response:
    """Zoom's recording download: only with the file's download token (Bearer header or
    ?access_token=); Range requests answer 206, so an interrupted download resumes."""
    with _lock:
        rec = RECORDINGS.get(name)
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    given = value if scheme == "Bearer" else request.args.get("access_token", "")
    if rec is None:
        return zoom_error(404, 3301, "This recording does not exist.")
    if not given or not secrets.compare_digest(given, rec["token"]):
        return zoom_error(401, 124, "Invalid access token.")
    with _lock:
        rec["downloads"] += 1
    return send_file(rec["path"], mimetype="video/mp4", conditional=True, etag=True)


@app.get("/_local/recordings")
def list_recordings() -> Response:
    with _lock:
        items = [
            {"name": n, "size": r["size"], "downloads": r["downloads"]}
            for n, r in RECORDINGS.items()
        ]
    return answer({"recordings": items})


# Playing a whole meeting as signed webhooks: POST /_sim/meetings/{id}/play
# (scripts/local_zoom_play.py).
try:
    import local_zoom_play as _play
except ImportError:  # imported as scripts.local_zoom
    from scripts import local_zoom_play as _play
_play.register(app, sys.modules[__name__])
