"""Firestore (the emulator locally via FIRESTORE_EMULATOR_HOST): the realtime projection's
writes. Server clients bypass the security rules; what clients may read is firestore.rules.

`transact` reads a document's versions record and lets the caller decide, inside one
Firestore transaction, what to write: a concurrent writer of the same record makes the
transaction retry with fresh reads, so two events for one document never interleave.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from google.cloud import firestore

from shared.platform.config import settings

_lock = threading.Lock()
_client: firestore.Client | None = None

# (new record, verb, payload): verb "set" writes payload whole, "update" merges payload into the
# existing document, "delete" removes it, None leaves the document as it is.
Change = tuple[dict[str, Any], str | None, dict[str, Any] | None]


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
    None (nothing to do). Raises on Firestore errors (the caller's delivery is retried)."""
    db = client()
    doc_ref, rec_ref = db.document(doc_path), db.document(record_path)

    @firestore.transactional
    def run(tx: firestore.Transaction) -> bool:
        snap = rec_ref.get(transaction=tx)
        change = decide(snap.to_dict() if snap.exists else None)
        if change is None:
            return False
        record, verb, payload = change
        tx.set(rec_ref, record)
        if verb == "set":
            tx.set(doc_ref, payload or {})
        elif verb == "update":
            tx.update(doc_ref, payload or {})
        elif verb == "delete":
            tx.delete(doc_ref)
        return True

    return bool(run(db.transaction()))


def put(path: str, data: dict[str, Any]) -> None:
    client().document(path).set(data)


def get(path: str) -> dict[str, Any] | None:
    snap = client().document(path).get()
    return snap.to_dict() if snap.exists else None


def delete(path: str) -> None:
    client().document(path).delete()
