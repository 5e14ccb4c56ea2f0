"""Firestore (the emulator locally via FIRESTORE_EMULATOR_HOST): the realtime projection's
writes. Server clients bypass the security rules; what clients may read is firestore.rules.

`transact` is optimistic concurrency on a document's versions record: read it, let the caller
decide, then commit the record and the document in one atomic batch that holds only if the
record is still the one read (its update time; or, for a new record, that none exists yet).
A concurrent writer makes the batch fail its precondition; we read again and decide again.
No locks are held between the read and the commit (the database runs in OPTIMISTIC mode, and
the emulator's pessimistic transactions stall for seconds under contention).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from google.api_core import exceptions
from google.cloud import firestore

from shared.platform.config import settings

# Events of one busy document (a post's reactions) contend; past this many lost races the error
# goes up and Pub/Sub redelivers later, which spreads the contention out.
MAX_ATTEMPTS = 12
_LOST_RACE = (exceptions.FailedPrecondition, exceptions.AlreadyExists, exceptions.Aborted)

_lock = threading.Lock()
_client: firestore.Client | None = None

# (new record, verb, payload): verb "set" writes payload whole, "update" merges payload into the
# existing document, "delete" removes it, None leaves the document as it is.
Change = tuple[dict[str, Any], str | None, dict[str, Any] | None]


class Contended(RuntimeError):
    """The record kept changing under us: let the delivery be retried later."""


def client() -> firestore.Client:
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = firestore.Client(project=settings().gcp_project)
    return _client


def transact(
    doc_path: str, record_path: str, decide: Callable[[dict[str, Any] | None], Change | None]
) -> bool:
    """Apply what `decide` returns for the current record, atomically; False when it returned
    None (nothing to do). Raises on Firestore errors and on lasting contention (Contended)."""
    db = client()
    doc_ref, rec_ref = db.document(doc_path), db.document(record_path)
    gone = False  # the document was deleted behind the record's back (an erasure)
    for attempt in range(MAX_ATTEMPTS):
        snap = rec_ref.get()
        change = decide(snap.to_dict() if snap.exists else None)
        if change is None:
            return False
        record, verb, payload = change
        batch = db.batch()
        if snap.exists:
            # update() replaces each named top-level field whole: the record has four.
            unchanged = db.write_option(last_update_time=snap.update_time)
            batch.update(rec_ref, record, option=unchanged)
        else:
            batch.create(rec_ref, record)
        if verb == "set":
            batch.set(doc_ref, payload or {})
        elif verb == "update" and not gone:
            batch.update(doc_ref, payload or {})
        elif verb == "delete":
            batch.delete(doc_ref)
        try:
            batch.commit()
            return True
        except exceptions.NotFound:
            if verb != "update" or gone:
                raise
            gone = True  # keep the record (counts land if the document comes back), no write
        except _LOST_RACE:
            time.sleep(random.uniform(0, 0.01 * 2 ** min(attempt, 6)))
    raise Contended(f"{doc_path}: the versions record kept changing")


def put(path: str, data: dict[str, Any]) -> None:
    client().document(path).set(data)


def get(path: str) -> dict[str, Any] | None:
    snap = client().document(path).get()
    return snap.to_dict() if snap.exists else None


def delete(path: str) -> None:
    client().document(path).delete()
