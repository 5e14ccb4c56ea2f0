"""Zoom adapter: the only module that talks to Zoom.

The platform has one Zoom OAuth app; every channel connects its own Zoom account to it
(authorization-code flow, issue 11):

  GET  {oauth}/oauth/authorize?response_type=code&client_id=…&redirect_uri=…&state=…
       (the browser goes there; Zoom redirects back to redirect_uri with ?code=&state=)
  POST {oauth}/oauth/token    HTTP Basic client_id:client_secret, form body
       grant_type=authorization_code&code=…&redirect_uri=…   or
       grant_type=refresh_token&refresh_token=…
       -> {access_token, token_type: "bearer", refresh_token, expires_in, scope, api_url};
       Zoom rotates the refresh token on every refresh (the old one stops working)
  POST {oauth}/oauth/revoke?token=…   (Basic) -> {"status": "success"}
  GET  /v2/users/me -> {id, account_id, email, ...} (the account a grant belongs to)

Meetings of one account (`ZoomMeetings`, built with that account's token source):
`POST /v2/users/me/meetings` (type 2, `start_time` in UTC `yyyy-MM-ddTHH:mm:ssZ`),
`GET /v2/users/me/meetings?type=scheduled`, `GET|PATCH|DELETE /v2/meetings/{meetingId}`.
Recordings: `GET {download_url}` with `Authorization: Bearer {download_token}` (Range for a
resumed download), streamed.

With ZOOM_CLIENT_ID/SECRET set it talks to real Zoom. Without them ("local mode") the same
requests go to the stand-in (scripts/local_zoom.py) at ZOOM_API_BASE. Plain stdlib HTTP
(urllib), imported on first call. Tokens, codes and download tokens are never logged.

Zoom failures never look like bad client input: rate limits (429), network errors and timeouts
are 503 with Retry-After; Zoom 5xx and anything else unexpected are 502; a grant the account
owner revoked at Zoom is 409 (connect Zoom again).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from shared.platform.config import settings
from shared.platform.errors import DomainError

log = logging.getLogger("zoom")
PROVIDER = "zoom"
OAUTH_BASE = "https://zoom.us"
API_BASE = "https://api.zoom.us/v2"
LOCAL_CREDENTIALS = ("local_client", "local_secret")
TIMEOUT_SECONDS = 10
DOWNLOAD_TIMEOUT_SECONDS = 60
CALLBACK_PATH = "/v1/integrations/zoom/callback"


class LiveProviderError(DomainError):
    """Zoom answered something we cannot use (5xx, a refused request, a malformed answer)."""

    status, slug, title = 502, "live-provider-error", "Live class provider error"


class LiveProviderUnavailable(DomainError):
    """Zoom is rate limiting us or cannot be reached: try again later."""

    status, slug, title = 503, "live-provider-unavailable", "Live class provider unavailable"

    def __init__(self, detail: str = "", *, retry_after: int = 5) -> None:
        super().__init__(detail, retry_after=max(1, int(retry_after)))


class GrantRevoked(DomainError):
    """Zoom refuses the channel's grant (revoked or uninstalled at Zoom): connect again."""

    status, slug, title = 409, "zoom-not-connected", "Zoom account not connected"


class DownloadRefused(Exception):
    """Zoom refuses the recording download (token expired or wrong, file gone): permanent."""


class _Answer:
    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.status, self.body, self.headers = status, body, headers

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


@dataclass(frozen=True)
class Grant:
    """What Zoom's token endpoint answers (tokens are credentials: never log this)."""

    access_token: str
    refresh_token: str
    expires_in: int
    scope: str

    def __repr__(self) -> str:  # a stray log line must not carry the tokens
        return f"Grant(expires_in={self.expires_in}, scope={self.scope!r})"


class TokenSource(Protocol):
    """One account's access token, renewed by whoever stores it."""

    def token(self) -> str: ...

    def renewed(self, stale: str) -> str: ...


def zoom_time(moment: datetime) -> str:
    """Zoom's GMT form of a start time: `yyyy-MM-ddTHH:mm:ssZ` (no fraction, no offset)."""
    if moment.tzinfo is None:
        raise ValueError("a start time needs a time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _send(method: str, url: str, *, headers: dict[str, str], body: bytes | None = None) -> _Answer:
    import urllib.error
    import urllib.request

    # S310: bases are checked to be http(s) where they are configured, never user input.
    req = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as resp:  # noqa: S310
            return _Answer(resp.status, resp.read(), dict(resp.headers))
    except urllib.error.HTTPError as e:
        return _Answer(e.code, e.read(), dict(e.headers or {}))
    except (urllib.error.URLError, OSError) as e:
        # A timeout on a create may still have created the meeting: the intent row written
        # before the call lets the live sweeper find and delete it (shared/live/service.py).
        log.warning("zoom %s %s unreachable: %s", method, url.split("?")[0], e)
        raise LiveProviderUnavailable("Zoom cannot be reached; try again shortly.") from e


def _raise_for(answer: _Answer, what: str) -> None:
    """Map a failed Zoom answer to a provider error (never to a 4xx of our client)."""
    data = answer.json()
    code = data.get("code") if isinstance(data, dict) else None
    message = (data.get("message") or data.get("reason")) if isinstance(data, dict) else None
    log.warning(
        "zoom could not %s: %s %s",
        what,
        answer.status,
        message,
        extra={"fields": {"http_status": answer.status, "zoom_code": code}},
    )
    if answer.status == 429:
        retry = answer.headers.get("Retry-After", "")
        raise LiveProviderUnavailable(
            f"Zoom is rate limiting requests; could not {what}. Try again shortly.",
            retry_after=int(retry) if retry.isdigit() else 5,
        )
    raise LiveProviderError(f"Zoom could not {what} (HTTP {answer.status}).")


def _check_base(base: str) -> str:
    if not base.startswith(("https://", "http://")):
        raise ValueError(f"not an http(s) base URL: {base!r}")
    return base.rstrip("/")


class ZoomOAuthApp:
    """The platform's Zoom app: the authorization-code dance and the token endpoint."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        oauth_base: str = OAUTH_BASE,
        api_base: str = API_BASE,
    ) -> None:
        self.client_id = client_id
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self.redirect_uri = redirect_uri
        self.oauth_base = _check_base(oauth_base)
        self.api_base = _check_base(api_base)

    def authorize_url(self, state: str) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "state": state,
            }
        )
        return f"{self.oauth_base}/oauth/authorize?{query}"

    def _token(self, form: dict[str, str], what: str) -> Grant:
        answer = _send(
            "POST",
            f"{self.oauth_base}/oauth/token",
            headers={
                "Authorization": f"Basic {self._basic}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            body=urlencode(form).encode(),
        )
        data = answer.json()
        refused = isinstance(data, dict) and data.get("error") in (
            "invalid_grant",
            "invalid_request",
            "invalid_token",
        )
        if answer.status in (400, 401) and refused:
            log.warning("zoom refused to %s", what)
            raise GrantRevoked(
                f"Zoom refused to {what}: the grant is invalid, expired or revoked. "
                "Connect the channel's Zoom account again."
            )
        ok = (
            answer.status == 200
            and isinstance(data, dict)
            and isinstance(data.get("access_token"), str)
            and isinstance(data.get("refresh_token"), str)
        )
        if not ok:
            _raise_for(answer, what)
            raise LiveProviderError("Zoom's token answer was not understood.")
        assert isinstance(data, dict)
        return Grant(
            access_token=data["access_token"],
            refresh_token=data["refresh_token"],
            expires_in=int(data.get("expires_in") or 3600),
            scope=str(data.get("scope") or ""),
        )

    def exchange_code(self, code: str) -> Grant:
        return self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
            },
            "exchange the authorization code",
        )

    def refresh(self, refresh_token: str) -> Grant:
        return self._token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token},
            "refresh the access token",
        )

    def revoke(self, token: str) -> bool:
        """Revoke the grant at Zoom (access token); True also when Zoom no longer knows it."""
        answer = _send(
            "POST",
            f"{self.oauth_base}/oauth/revoke?{urlencode({'token': token})}",
            headers={"Authorization": f"Basic {self._basic}", "Accept": "application/json"},
            body=b"",
        )
        if answer.status == 200:
            return True
        data = answer.json()
        if answer.status in (400, 401) and isinstance(data, dict):
            return True  # already invalid: nothing left to revoke
        _raise_for(answer, "revoke the grant")
        return False

    def me(self, access_token: str) -> dict[str, Any]:
        """The user a fresh grant belongs to: `id`, `account_id`, `email`."""
        answer = _send(
            "GET",
            f"{self.api_base}/users/me",
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        data = answer.json()
        if answer.status != 200 or not isinstance(data, dict) or not data.get("account_id"):
            _raise_for(answer, "read the connected account")
            raise LiveProviderError("Zoom's user answer was not understood.")
        return data

    def meetings(self, tokens: TokenSource) -> ZoomMeetings:
        return ZoomMeetings(api_base=self.api_base, tokens=tokens)


class ZoomMeetings:
    """One Zoom account's meetings, with that account's token source. Thread-safe."""

    name = PROVIDER

    def __init__(self, *, api_base: str, tokens: TokenSource) -> None:
        self.api_base = _check_base(api_base)
        self._tokens = tokens

    def _api(self, method: str, path: str, payload: dict[str, Any] | None = None) -> _Answer:
        """One API call; a token Zoom no longer accepts (401) is renewed once."""
        body = None if payload is None else json.dumps(payload).encode()
        token = self._tokens.token()
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            answer = _send(method, self.api_base + path, headers=headers, body=body)
            if answer.status == 401 and attempt == 1:
                token = self._tokens.renewed(token)
                continue
            return answer
        raise AssertionError("unreachable")

    def create_meeting(
        self,
        *,
        topic: str,
        start_time: datetime,
        duration_minutes: int,
        agenda: str = "",
    ) -> dict[str, Any]:
        """Schedule a meeting (type 2) for the connected user; answers Zoom's meeting."""
        payload: dict[str, Any] = {
            "topic": topic,
            "type": 2,
            "start_time": zoom_time(start_time),
            "duration": duration_minutes,
            "timezone": "UTC",
            "agenda": agenda[:2000],
            "default_password": False,
            "pre_schedule": False,
            "settings": {
                "join_before_host": False,
                "waiting_room": True,
                "mute_upon_entry": True,
                "host_video": True,
                "participant_video": False,
                "approval_type": 2,  # no registration: the join link is the invitation
                "auto_recording": "cloud",  # recording.completed becomes a lesson (API.md)
                "email_notification": False,
            },
        }
        answer = self._api("POST", "/users/me/meetings", payload)
        meeting = answer.json()
        if answer.status != 201:
            _raise_for(answer, "schedule the meeting")
        if not isinstance(meeting, dict) or not {"id", "join_url"} <= set(meeting):
            raise LiveProviderError("Zoom's meeting answer was not understood.")
        return meeting

    def list_meetings(self) -> list[dict[str, Any]]:
        """The account user's scheduled meetings (every page; id, topic, agenda, ...)."""
        found: list[dict[str, Any]] = []
        token = ""
        for _ in range(100):  # 300 a page: 30,000 meetings is past any real account
            query = {"type": "scheduled", "page_size": "300"}
            if token:
                query["next_page_token"] = token
            answer = self._api("GET", f"/users/me/meetings?{urlencode(query)}")
            data = answer.json()
            if answer.status != 200 or not isinstance(data, dict):
                _raise_for(answer, "list the meetings")
                raise LiveProviderError("Zoom's meeting list was not understood.")
            found.extend(m for m in data.get("meetings") or [] if isinstance(m, dict))
            token = str(data.get("next_page_token") or "")
            if not token:
                break
        return found

    def get_meeting(self, meeting_id: str) -> dict[str, Any] | None:
        answer = self._api("GET", f"/meetings/{quote(str(meeting_id), safe='')}")
        if answer.status == 404:
            return None
        data = answer.json()
        if answer.status != 200 or not isinstance(data, dict):
            _raise_for(answer, "read the meeting")
            raise LiveProviderError("Zoom's meeting answer was not understood.")
        return data

    def update_meeting(
        self,
        meeting_id: str,
        *,
        topic: str | None = None,
        start_time: datetime | None = None,
        duration_minutes: int | None = None,
    ) -> bool:
        """Change a scheduled meeting (PATCH: only the fields given); False when Zoom no
        longer has it."""
        payload: dict[str, Any] = {}
        if topic is not None:
            payload["topic"] = topic
        if start_time is not None:
            payload["start_time"] = zoom_time(start_time)
            payload["timezone"] = "UTC"
        if duration_minutes is not None:
            payload["duration"] = duration_minutes
        answer = self._api("PATCH", f"/meetings/{quote(str(meeting_id), safe='')}", payload)
        if answer.status == 204:
            return True
        if answer.status == 404:
            return False
        _raise_for(answer, "reschedule the meeting")
        return False

    def delete_meeting(self, meeting_id: str) -> bool:
        """Delete the meeting; False when Zoom no longer has it (deleting twice is fine)."""
        answer = self._api("DELETE", f"/meetings/{quote(str(meeting_id), safe='')}")
        if answer.status == 204:
            return True
        if answer.status == 404:
            return False
        _raise_for(answer, "delete the meeting")
        return False


# -- recording downloads ------------------------------------------------------------------
class Download:
    """An open recording download: `read(n)` until b"", `total_bytes` of the whole file."""

    def __init__(self, resp: Any, total: int | None) -> None:
        self._resp = resp
        self.total_bytes = total

    def read(self, n: int) -> bytes:
        try:
            return bytes(self._resp.read(n))
        except OSError as e:  # the connection broke mid-file: the next attempt resumes
            raise LiveProviderUnavailable("the recording download broke off") from e


@contextmanager
def open_download(url: str, token: str, *, start: int = 0) -> Iterator[Download]:
    """Stream a recording from `start` (a Range request when resuming). The token goes in
    the Authorization header, never in a URL that could be logged."""
    import urllib.error
    import urllib.request

    if not url.startswith(("https://", "http://")):
        raise DownloadRefused("not an http(s) download URL")
    headers = {"Authorization": f"Bearer {token}"}
    if start:
        headers["Range"] = f"bytes={start}-"
    req = urllib.request.Request(url, headers=headers)  # noqa: S310 (checked above)
    try:
        resp = urllib.request.urlopen(req, timeout=DOWNLOAD_TIMEOUT_SECONDS)  # noqa: S310
    except urllib.error.HTTPError as e:
        e.close()
        if e.code in (401, 403, 404, 410):
            raise DownloadRefused(f"Zoom refused the recording download (HTTP {e.code})") from None
        if e.code == 429:
            raise LiveProviderUnavailable("Zoom is rate limiting downloads") from None
        raise LiveProviderError(f"recording download failed (HTTP {e.code})") from None
    except (urllib.error.URLError, OSError) as e:
        raise LiveProviderUnavailable("the recording download cannot be reached") from e
    try:
        if start and resp.status != 206:
            raise LiveProviderError("Zoom ignored the Range of a resumed download")
        total = _total_of(resp.headers, start)
        yield Download(resp, total)
    finally:
        resp.close()


def _total_of(headers: Any, start: int) -> int | None:
    span = headers.get("Content-Range") or ""
    if "/" in span and span.rsplit("/", 1)[1].isdigit():
        return int(span.rsplit("/", 1)[1])
    length = headers.get("Content-Length")
    return start + int(length) if length and length.isdigit() else None


# -- the configured app ---------------------------------------------------------------------
_app: ZoomOAuthApp | None = None
_app_lock = threading.Lock()


def is_local() -> bool:
    return settings().zoom_client_id is None


def oauth_app() -> ZoomOAuthApp:
    """The process's Zoom app, built on first use from the settings."""
    global _app
    if _app is None:
        with _app_lock:
            if _app is None:
                s = settings()
                redirect = s.public_base_url.rstrip("/") + CALLBACK_PATH
                if s.zoom_client_id is not None and s.zoom_client_secret is not None:
                    _app = ZoomOAuthApp(
                        client_id=s.zoom_client_id.get_secret_value(),
                        client_secret=s.zoom_client_secret.get_secret_value(),
                        redirect_uri=redirect,
                    )
                elif s.is_local:
                    base = s.zoom_api_base.rstrip("/")
                    cid, secret = LOCAL_CREDENTIALS
                    _app = ZoomOAuthApp(
                        client_id=cid,
                        client_secret=secret,
                        redirect_uri=redirect,
                        oauth_base=base,
                        api_base=base + "/v2",
                    )
                else:  # a cloud function without mounted credentials must not guess
                    raise LiveProviderUnavailable(
                        "Live classes are not configured (Zoom app credentials missing).",
                        retry_after=60,
                    )
    return _app


def reset_client() -> None:
    """Forget the app (tests change settings between runs)."""
    global _app
    _app = None
