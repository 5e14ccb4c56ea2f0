"""Streaming writes of export parts and archives to the exports bucket: nothing is held in
memory whole (a user with 10k events is written page by page, the ZIP entry by entry)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

BUCKET = "exports"
CHUNK = 1 << 20


def _default(v: Any) -> Any:
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, (bytes, memoryview)):
        return None  # binary columns are hashes and ciphertexts: never exported
    return str(v)


def dumps(v: Any) -> str:
    return json.dumps(v, default=_default, ensure_ascii=False, sort_keys=True)


def _blob(name: str) -> Any:
    from shared.adapters import gcs_objects

    return gcs_objects._blob(BUCKET, name)


@contextmanager
def writer(name: str, content_type: str) -> Iterator[IO[bytes]]:
    """A resumable upload of `name`, written in chunks as the caller goes."""
    blob = _blob(name)
    # ignore_flush: zipfile flushes at the end; the upload finalizes on close only
    with blob.open(
        "wb", content_type=content_type, chunk_size=4 * 256 * 1024, ignore_flush=True
    ) as f:
        yield f


def write_json_array(name: str, rows: Iterable[Any]) -> int:
    """`rows` (any iterable, typically pages from the database) as one JSON array; returns
    how many rows were written."""
    n = 0
    with writer(name, "application/json") as f:
        f.write(b"[")
        for row in rows:
            f.write((b",\n" if n else b"\n") + dumps(row).encode())
            n += 1
        f.write(b"\n]\n")
    return n


def write_json(name: str, value: Any) -> None:
    with writer(name, "application/json") as f:
        f.write(dumps(value).encode())


def list_names(prefix: str) -> list[str]:
    from shared.adapters import gcs_objects
    from shared.platform.config import settings

    bucket = gcs_objects.client().bucket(settings().bucket(BUCKET))
    return sorted(b.name for b in bucket.list_blobs(prefix=prefix))


def delete_prefix(prefix: str) -> int:
    from shared.adapters import gcs_objects

    n = 0
    for name in list_names(prefix):
        n += int(gcs_objects.delete(BUCKET, name))
    return n


def copy_into(zf: zipfile.ZipFile, arcname: str, source: IO[bytes]) -> None:
    with zf.open(arcname, "w", force_zip64=True) as dest:
        while chunk := source.read(CHUNK):
            dest.write(chunk)


@contextmanager
def zip_writer(name: str) -> Iterator[zipfile.ZipFile]:
    """A ZIP streamed to `name`: entries are written one after another with data
    descriptors, so the upload needs no seeking back."""
    with (
        writer(name, "application/zip") as f,
        zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf,
    ):
        yield zf


def open_part(name: str) -> IO[bytes]:
    return _blob(name).open("rb", chunk_size=CHUNK)


def open_object(bucket_key: str, name: str) -> IO[bytes]:
    from shared.adapters import gcs_objects

    return gcs_objects._blob(bucket_key, name).open("rb", chunk_size=CHUNK)
