"""Firestore documents about one person (the emulator locally via FIRESTORE_EMULATOR_HOST),
for the privacy export and erasure: `users/{id}` with its subcollections, every document of a
top-level collection whose `user_id` field is theirs, and the projected posts and comments
they wrote (`author.user_id`, shared/realtime). Import lazily: the SDK is heavy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.platform.config import settings

_lock = threading.Lock()
_client: firestore.Client | None = None


def client() -> firestore.Client:
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = firestore.Client(project=settings().gcp_project)
    return _client


def user_documents(user_id: str) -> Iterator[dict[str, Any]]:
    """{path, data} of every document about the user, each once."""
    db = client()
    seen: set[str] = set()
    own = db.collection("users").document(user_id)
    snap = own.get()
    if snap.exists:
        seen.add(snap.reference.path)
        yield {"path": snap.reference.path, "data": snap.to_dict()}
    for sub in own.collections():
        for d in sub.stream():
            if d.reference.path not in seen:
                seen.add(d.reference.path)
                yield {"path": d.reference.path, "data": d.to_dict()}
    for coll in db.collections():
        for d in coll.where(filter=FieldFilter("user_id", "==", user_id)).stream():
            if d.reference.path not in seen:
                seen.add(d.reference.path)
                yield {"path": d.reference.path, "data": d.to_dict()}


# Collection groups of the realtime projection whose documents carry `author.user_id`.
AUTHORED_GROUPS = ("posts", "comments")


def authored_documents(user_id: str) -> Iterator[dict[str, Any]]:
    """{path, data} of the projected posts and comments the user wrote."""
    for group in AUTHORED_GROUPS:
        query = (
            client()
            .collection_group(group)
            .where(filter=FieldFilter("author.user_id", "==", user_id))
        )
        for d in query.stream():
            yield {"path": d.reference.path, "data": d.to_dict()}


def delete(path: str) -> None:
    client().document(path).delete()


def update(path: str, fields: dict[str, Any]) -> None:
    client().document(path).update(fields)
