"""Cloud Storage resumable uploads driven chunk by chunk, and server-side copies.

For objects too big to hold in memory (live-class recordings): the caller opens a resumable
session once (`start`), keeps its URI and the acknowledged offset (in its own row), and sends
fixed-size chunks (`put_chunk`); a process that dies continues from that offset with the same
URI (`persisted_offset` asks storage for the truth where the backend answers it). JSON API
protocol: https://cloud.google.com/storage/docs/performing-resumable-uploads.

The session URI is a capability for this one object's upload (valid a week); it is kept in the
database like a signed URL would be, never logged. Import lazily: it loads
google.cloud.storage.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc

from shared.adapters.gcs_objects import TRANSIENT, _blob, client
from shared.platform.config import settings

CHUNK_MULTIPLE = 256 * 1024  # every chunk but the last is a multiple of 256 KiB (GCS rule)
TIMEOUT_SECONDS = 120

__all__ = [
    "CHUNK_MULTIPLE",
    "TRANSIENT",
    "SessionGone",
    "copy",
    "persisted_offset",
    "put_chunk",
    "start",
]


class SessionGone(Exception):
    """The resumable session expired or was cancelled: start a new one from byte 0."""


class UploadRefused(Exception):
    """Storage refused a chunk for a reason retrying will not fix."""


def start(
    bucket_key: str, name: str, *, content_type: str, custom_time: datetime | None = None
) -> str:
    """Open a resumable upload of `name` and answer its session URI. customTime and the
    content type are part of the object's metadata from the first byte."""
    blob = _blob(bucket_key, name)
    blob.content_type = content_type
    if custom_time is not None:
        blob.custom_time = custom_time
    return str(blob.create_resumable_upload_session(content_type=content_type, timeout=30))


def _session() -> Any:
    # The client's authorized session (plain requests against the emulator).
    return client()._http


def _check(resp: Any) -> None:
    if resp.status_code in (404, 410):
        raise SessionGone(f"resumable session answered {resp.status_code}")
    if resp.status_code == 429 or resp.status_code >= 500:
        raise gexc.from_http_status(resp.status_code, "storage is unavailable")
    if resp.status_code not in (200, 201, 308):
        raise UploadRefused(f"storage refused the chunk: HTTP {resp.status_code}")


def _acknowledged(resp: Any) -> int:
    """Bytes storage holds after a 308 (its Range header `bytes=0-N`; none: 0)."""
    rng = resp.headers.get("Range")
    if not rng:
        return 0
    return int(rng.rsplit("-", 1)[1]) + 1


def put_chunk(uri: str, data: bytes, *, offset: int, total: int | None) -> int:
    """Send `data` at `offset`; `total` (the object's full size) only with the last chunk.
    Answers how many bytes storage now holds (== offset + len(data) once complete)."""
    end = offset + len(data) - 1
    if total is None and len(data) % CHUNK_MULTIPLE:
        raise ValueError("a chunk that is not the last must be a multiple of 256 KiB")
    span = f"bytes {offset}-{end}/{total if total is not None else '*'}"
    if not data:
        span = f"bytes */{total}"
    resp = _session().put(uri, data=data, headers={"Content-Range": span}, timeout=TIMEOUT_SECONDS)
    _check(resp)
    if resp.status_code in (200, 201):
        return offset + len(data)
    return _acknowledged(resp)


def persisted_offset(uri: str) -> int | None:
    """How many bytes storage holds for the session (None: the backend cannot say, e.g.
    fake-gcs-server, which treats a status query as the end of the upload; the caller then
    trusts the offset it recorded after each acknowledged chunk)."""
    if settings().storage_emulator_host:
        return None
    resp = _session().put(uri, headers={"Content-Range": "bytes */*"}, timeout=30)
    if resp.status_code in (200, 201):
        return -1  # already complete
    _check(resp)
    return _acknowledged(resp)


def copy(src_key: str, src_name: str, dst_key: str, dst_name: str, *, content_type: str) -> None:
    """Server-side copy (rewrite, in as many calls as storage needs): no bytes pass through
    this process, whatever the size."""
    src = _blob(src_key, src_name)
    dst = _blob(dst_key, dst_name)
    dst.content_type = content_type
    token, _done, _total = dst.rewrite(src)
    while token is not None:
        token, _done, _total = dst.rewrite(src, token=token)
