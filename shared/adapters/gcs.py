"""Cloud Storage: V4 signed URLs, plus (re-exported from gcs_objects) ranged reads, stat,
write, delete. These two are the only modules importing google.cloud.storage; import them
lazily (inside the function that needs them).

Buckets are named by key (`media`, `recordings`, ...): `settings().bucket(key)`.

Signing:
- locally (`SIGNING_KEY_FILE` set) with a generated service-account key, and the URL points at
  `STORAGE_EMULATOR_HOST` (fake-gcs-server). fake-gcs-server checks neither the signature nor
  the signed `x-goog-content-length-range`; media_finalized re-checks every object.
- in the cloud (no key file) through IAM signBlob: the runtime service account's access token
  plus its email (`SIGNING_SERVICE_ACCOUNT` overrides), which needs
  roles/iam.serviceAccountTokenCreator on itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.adapters.gcs_objects import (  # noqa: F401  (this module's API, as before)
    TRANSIENT,
    ObjectMissing,
    _blob,
    _lock,
    client,
    delete,
    describe,
    read_range,
    stat,
    write,
)
from shared.platform.config import settings

MAX_SIGNED_SECONDS = 15 * 60  # upload and playback URLs live at most 15 minutes

_signer: Any = None


def _emulator_endpoint() -> str | None:
    host = settings().storage_emulator_host
    if not host:
        return None
    return host if "://" in host else f"http://{host}"


def _signing_kwargs() -> dict[str, Any]:
    """Credentials for generate_signed_url: a key file locally, IAM signBlob in the cloud."""
    global _signer
    s = settings()
    if s.signing_key_file:
        if _signer is None:
            from google.oauth2 import service_account

            _signer = service_account.Credentials.from_service_account_file(s.signing_key_file)
        kwargs: dict[str, Any] = {"credentials": _signer}
        endpoint = _emulator_endpoint()
        if endpoint:
            kwargs["api_access_endpoint"] = endpoint
        return kwargs
    import google.auth
    from google.auth.transport.requests import Request

    with _lock:
        if _signer is None:
            _signer, _ = google.auth.default(
                scopes=["https://www.googleapis.com/auth/cloud-platform"]
            )
        if not _signer.valid:
            _signer.refresh(Request())
        email = s.signing_service_account or getattr(_signer, "service_account_email", None)
        return {"service_account_email": email, "access_token": _signer.token}


def _expiry(expires_seconds: int) -> tuple[timedelta, datetime]:
    seconds = max(1, min(int(expires_seconds), MAX_SIGNED_SECONDS))
    now = datetime.now(UTC).replace(microsecond=0)
    return timedelta(seconds=seconds), now + timedelta(seconds=seconds)


def signed_put_url(
    bucket_key: str,
    object_name: str,
    *,
    content_type: str,
    size_bytes: int,
    expires_seconds: int = MAX_SIGNED_SECONDS,
    create_only: bool = True,
) -> tuple[str, dict[str, str], datetime]:
    """A V4 PUT URL pinning the content type and the exact size; the client must send
    exactly the returned headers. Returns (url, headers, expires_at).

    `create_only` signs `x-goog-if-generation-match: 0`: a second PUT to the same URL fails
    (412) instead of replacing an object that was already checked.
    """
    headers = {"x-goog-content-length-range": f"{size_bytes},{size_bytes}"}
    if create_only:
        headers["x-goog-if-generation-match"] = "0"
    ttl, expires_at = _expiry(expires_seconds)
    url = _blob(bucket_key, object_name).generate_signed_url(
        version="v4",
        method="PUT",
        expiration=ttl,
        content_type=content_type,
        headers=dict(headers),
        **_signing_kwargs(),  # the library adds `Host` to the dict
    )
    return url, {"Content-Type": content_type, **headers}, expires_at


def signed_get_url(
    bucket_key: str, object_name: str, *, expires_seconds: int, filename: str | None = None
) -> tuple[str, datetime]:
    """A V4 GET URL; with `filename` the browser downloads it as an attachment of that name."""
    ttl, expires_at = _expiry(expires_seconds)
    disposition = None
    if filename:
        safe = filename.replace('"', "").replace("\\", "")
        disposition = f'attachment; filename="{safe}"'
    url = _blob(bucket_key, object_name).generate_signed_url(
        version="v4",
        method="GET",
        expiration=ttl,
        response_disposition=disposition,
        **_signing_kwargs(),
    )
    return url, expires_at
