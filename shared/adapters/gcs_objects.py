"""Cloud Storage objects: stat, ranged reads, small writes, delete. No URL signing here, so a
function that only touches objects (media_cleanup) neither loads the signing code nor needs the
right to sign; shared/adapters/gcs.py re-exports all of this next to the signed URLs.
Import it lazily (inside the function that needs it): it imports google.cloud.storage.

Buckets are named by key (`media`, `recordings`, ...): `settings().bucket(key)`.
"""

from __future__ import annotations

import threading
from typing import Any

import google.cloud.storage as storage
from google.api_core import exceptions as gexc

from shared.platform.config import settings

_lock = threading.Lock()
_client: storage.Client | None = None

# Errors worth retrying (the caller raises, the event is redelivered).
TRANSIENT = (gexc.ServerError, gexc.TooManyRequests, gexc.RetryError, ConnectionError, TimeoutError)


class ObjectMissing(Exception):
    """The object (or the generation asked for) no longer exists."""


def client() -> storage.Client:
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                # With STORAGE_EMULATOR_HOST set the library talks to the emulator anonymously.
                _client = storage.Client(project=settings().gcp_project)
    return _client


def _blob(bucket_key: str, name: str, generation: int | None = None) -> storage.Blob:
    return client().bucket(settings().bucket(bucket_key)).blob(name, generation=generation)


def stat(
    bucket_key: str, name: str, *, generation: int | None = None
) -> tuple[int, str | None] | None:
    """(size, content_type) of the live object (or of `generation`), None if it is gone."""
    info = describe(bucket_key, name, generation=generation)
    return None if info is None else (info["size"], info["content_type"])


def describe(bucket_key: str, name: str, *, generation: int | None = None) -> dict[str, Any] | None:
    """size, content_type and generation of the object, None if it (or that generation) is
    gone."""
    blob = _blob(bucket_key, name, generation)
    try:
        blob.reload()
    except gexc.NotFound:
        return None
    return {
        "size": int(blob.size or 0),
        "content_type": blob.content_type,
        "generation": int(blob.generation) if blob.generation else None,
    }


def read_range(
    bucket_key: str, name: str, start: int, end: int, *, generation: int | None = None
) -> bytes:
    """Bytes start..end (inclusive) of the object; raises ObjectMissing if it is gone."""
    try:
        return _blob(bucket_key, name, generation).download_as_bytes(
            start=start, end=end, checksum=None
        )
    except gexc.NotFound as e:
        raise ObjectMissing(name) from e


def write(bucket_key: str, name: str, data: bytes, *, content_type: str) -> None:
    """Store a small object (thumbnails the platform makes itself, test fixtures)."""
    _blob(bucket_key, name).upload_from_string(data, content_type=content_type)


def delete(bucket_key: str, name: str, *, generation: int | None = None) -> bool:
    """Delete the object; with `generation`, only while that generation is the live one (a
    newer upload under the same name is left alone). False if there was nothing to delete."""
    if generation is not None:
        # fake-gcs-server ignores ifGenerationMatch on delete: check first, then let GCS
        # enforce the precondition (in the cloud it closes the remaining race).
        live = describe(bucket_key, name)
        if live is None or live["generation"] != generation:
            return False
    blob = _blob(bucket_key, name)
    try:
        blob.delete(if_generation_match=generation)
    except (gexc.NotFound, gexc.PreconditionFailed):
        return False
    return True
