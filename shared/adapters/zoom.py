"""Zoom Meetings API adapter: the only module that talks to Zoom.

Server-to-Server OAuth: `POST {oauth}/oauth/token?grant_type=account_credentials&account_id=…`
with HTTP Basic `client_id:client_secret` answers a bearer token that lives an hour and has no
refresh token; it is cached per process until shortly before it expires (and dropped when
Zoom answers 401 with it). Meetings: `POST /v2/users/me/meetings` (a type 2 scheduled meeting,
`start_time` in UTC as `yyyy-MM-ddTHH:mm:ssZ`), `GET`, `PATCH` and
`DELETE /v2/meetings/{meetingId}`.

With the credentials set it talks to real Zoom. Without them ("local mode") the same requests go
to the stand-in (scripts/local_zoom.py) at `ZOOM_API_BASE`, with placeholder credentials.
Plain stdlib HTTP (urllib), imported on first call: routes that never schedule a class pay
nothing for it.

Zoom failures never look like bad client input: rate limits (429), network errors and timeouts
are 503 with Retry-After; Zoom 5xx and anything else unexpected are 502.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from shared.platform.config import settings
from shared.platform.errors import DomainError

log = logging.getLogger("zoom")
PROVIDER = "zoom"
OAUTH_BASE = "https://zoom.us"
API_BASE = "https://api.zoom.us/v2"
LOCAL_CREDENTIALS = ("local_account", "local_client", "local_secret")
TIMEOUT_SECONDS = 10
TOKEN_MARGIN_SECONDS = 60  # renew a minute early: a token must not expire in flight


class LiveProviderError(DomainError):
    """Zoom answered something we cannot use (5xx, a refused request, a malformed answer)."""

    status, slug, title = 502, "live-provider-error", "Live class provider error"


class LiveProviderUnavailable(DomainError):
    """Zoom is rate limiting us or cannot be reached: try again later."""

    status, slug, title = 503, "live-provider-unavailable", "Live class provider unavailable"

    def __init__(self, detail: str = "", *, retry_after: int = 5) -> None:
        super().__init__(detail, retry_after=max(1, int(retry_after)))


class _Answer:
    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.status, self.body, self.headers = status, body, headers

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


def zoom_time(moment: datetime) -> str:
    """Zoom's GMT form of a start time: `yyyy-MM-ddTHH:mm:ssZ` (no fraction, no offset)."""
    if moment.tzinfo is None:
        raise ValueError("a start time needs a time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ZoomClient:
    """One Zoom account's API. Thread-safe; the access token is shared by the threads."""

    name = PROVIDER

    def __init__(
        self,
        *,
        account_id: str,
        client_id: str,
        client_secret: str,
        oauth_base: str = OAUTH_BASE,
        api_base: str = API_BASE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for base in (oauth_base, api_base):
            if not base.startswith(("https://", "http://")):
                raise ValueError(f"not an http(s) base URL: {base!r}")
        self._account_id = account_id
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self.oauth_base = oauth_base.rstrip("/")
        self.api_base = api_base.rstrip("/")
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._token_expires = 0.0

    # -- transport -------------------------------------------------------------------------
    def _send(
        self, method: str, url: str, *, headers: dict[str, str], body: bytes | None = None
    ) -> _Answer:
        import urllib.error
        import urllib.request

        # S310: the bases are checked to be http(s) in __init__, never user input.
        req = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as resp:  # noqa: S310
                return _Answer(resp.status, resp.read(), dict(resp.headers))
        except urllib.error.HTTPError as e:
            return _Answer(e.code, e.read(), dict(e.headers or {}))
        except (urllib.error.URLError, OSError) as e:
            # A timeout on a create may still have created the meeting; we cannot know, and
            # the client's retry gets a fresh answer (see shared/live_sessions.py).
            log.warning("zoom %s %s unreachable: %s", method, url.split("?")[0], e)
            raise LiveProviderUnavailable("Zoom cannot be reached; try again shortly.") from e

    # -- OAuth -----------------------------------------------------------------------------
    def access_token(self) -> str:
        """The cached bearer token, or a new one when it is (nearly) expired."""
        with self._lock:
            if self._token and self._clock() < self._token_expires - TOKEN_MARGIN_SECONDS:
                return self._token
            query = urlencode({"grant_type": "account_credentials", "account_id": self._account_id})
            started = self._clock()
            answer = self._send(
                "POST",
                f"{self.oauth_base}/oauth/token?{query}",
                headers={
                    "Authorization": f"Basic {self._basic}",
                    "Content-Type": "application/x-www-form-urlencoded",
                },
                body=b"",
            )
            data = answer.json() if answer.status == 200 else None
            if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
                self._raise_for(answer, "sign in to Zoom")
                raise LiveProviderError("Zoom's token answer was not understood.")
            self._token = data["access_token"]
            self._token_expires = started + float(data.get("expires_in") or 3600)
            return self._token

    def _forget_token(self, token: str) -> None:
        with self._lock:
            if self._token == token:
                self._token = None

    def _api(self, method: str, path: str, payload: dict[str, Any] | None = None) -> _Answer:
        """One API call; a token Zoom no longer accepts (401) is renewed once."""
        body = None if payload is None else json.dumps(payload).encode()
        for attempt in (1, 2):
            token = self.access_token()
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            answer = self._send(method, self.api_base + path, headers=headers, body=body)
            if answer.status == 401 and attempt == 1:
                self._forget_token(token)
                continue
            return answer
        raise AssertionError("unreachable")

    @staticmethod
    def _raise_for(answer: _Answer, what: str) -> None:
        """Map a failed Zoom answer to a provider error (never to a 4xx of our client)."""
        data = answer.json()
        code = data.get("code") if isinstance(data, dict) else None
        message = data.get("message") or data.get("reason") if isinstance(data, dict) else None
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

    # -- meetings --------------------------------------------------------------------------
    def create_meeting(
        self,
        *,
        topic: str,
        start_time: datetime,
        duration_minutes: int,
        agenda: str = "",
    ) -> dict[str, Any]:
        """Schedule a meeting (type 2) for the app's account owner; answers Zoom's meeting."""
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
            self._raise_for(answer, "schedule the meeting")
        if not isinstance(meeting, dict) or not {"id", "join_url", "start_url"} <= set(meeting):
            raise LiveProviderError("Zoom's meeting answer was not understood.")
        return meeting

    def get_meeting(self, meeting_id: str) -> dict[str, Any] | None:
        answer = self._api("GET", f"/meetings/{quote(str(meeting_id), safe='')}")
        if answer.status == 404:
            return None
        if answer.status != 200:
            self._raise_for(answer, "read the meeting")
        return answer.json()

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
        self._raise_for(answer, "reschedule the meeting")
        return False

    def delete_meeting(self, meeting_id: str) -> bool:
        """Delete the meeting; False when Zoom no longer has it (deleting twice is fine)."""
        answer = self._api("DELETE", f"/meetings/{quote(str(meeting_id), safe='')}")
        if answer.status == 204:
            return True
        if answer.status == 404:
            return False
        self._raise_for(answer, "delete the meeting")
        return False


_client: ZoomClient | None = None
_client_lock = threading.Lock()


def is_local() -> bool:
    return settings().zoom_client_id is None


def client() -> ZoomClient:
    """The process's Zoom client, built on first use from the settings."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                s = settings()
                if s.zoom_client_id is not None:
                    _client = ZoomClient(
                        account_id=s.zoom_account_id.get_secret_value(),  # type: ignore[union-attr]
                        client_id=s.zoom_client_id.get_secret_value(),
                        client_secret=s.zoom_client_secret.get_secret_value(),  # type: ignore[union-attr]
                    )
                elif s.is_local:
                    base = s.zoom_api_base.rstrip("/")
                    account, cid, secret = LOCAL_CREDENTIALS
                    _client = ZoomClient(
                        account_id=account,
                        client_id=cid,
                        client_secret=secret,
                        oauth_base=base,
                        api_base=base + "/v2",
                    )
                else:  # a cloud function without mounted credentials must not guess
                    raise LiveProviderUnavailable(
                        "Live classes are not configured (Zoom credentials missing).",
                        retry_after=60,
                    )
    return _client


def reset_client() -> None:
    """Forget the client (tests change settings between runs)."""
    global _client
    _client = None
