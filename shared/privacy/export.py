"""The export steps the workflow runs one by one (each idempotent: it rewrites its own part).

A user export gathers, under `privacy/parts/<job>/`:
- `database/<table>.<column>.json`: every row of every table that names the user (the catalog
  says which, migration 0097), secrets left out; `profile.json`: the account itself;
- `analytics/events.json`: the user's analytics events, page by page;
- `storage/objects.json` and `files/...`: the objects of the user's uploads;
- `firestore/documents.json`: the documents about the user in Firestore;
then `package` streams the parts into one ZIP with a README in the exports bucket.
A channel export gathers the channel's courses, lessons, members, enrollments, posts,
comments, payments and revenue (ledger) under the owner's row-level security.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from shared.platform.db import transaction
from shared.privacy import rules, storage

log = logging.getLogger("privacy")
MAX_FILE_BYTES = 100 * 1024 * 1024  # larger uploads are listed, not copied into the ZIP


def _doc(v: Any) -> dict[str, Any]:
    return json.loads(v) if isinstance(v, str) else dict(v)


def _part(job: dict[str, Any], name: str) -> str:
    return rules.part_object_name(str(job["id"]), name)


# -- user export -------------------------------------------------------------------------


def user_columns(user_id: str) -> list[tuple[str, str]]:
    with transaction(user_id=user_id) as tx:
        rows = tx.all("SELECT tbl, col FROM privacy_user_columns()")
    return [(r["tbl"], r["col"]) for r in rows]


def user_rows(user_id: str, table: str, column: str) -> Iterator[dict[str, Any]]:
    """The user's rows of one table, a page per transaction."""
    after: str | None = None
    while True:
        with transaction(user_id=user_id) as tx:
            rows = tx.all(
                "SELECT row_ctid::text AS ctid, doc FROM privacy_user_rows("
                ":u, :t, :c, :n, CAST(:a AS tid))",
                u=user_id,
                t=table,
                c=column,
                n=rules.PAGE,
                a=after,
            )
        for r in rows:
            yield rules.exportable(_doc(r["doc"]))
        if len(rows) < rules.PAGE:
            return
        after = rows[-1]["ctid"]


def step_postgres(job: dict[str, Any]) -> dict[str, int]:
    user_id = str(job["user_id"])
    counts: dict[str, int] = {}
    with transaction(user_id=user_id) as tx:
        profile = tx.one(
            "SELECT id, email, display_name, created_at, terms_version, privacy_version,"
            " consented_at, analytics_consent FROM users WHERE id = :u",
            u=user_id,
        )
    storage.write_json(_part(job, "profile.json"), dict(profile or {}))
    for table, column in user_columns(user_id):
        if (table, column) in rules.NOT_EXPORTED or table == "analytics_events":
            continue
        name = _part(job, f"database/{table}.{column}.json")
        rows = user_rows(user_id, table, column)
        first = next(rows, None)
        if first is None:
            continue

        def all_rows(first: dict[str, Any] = first, rest: Iterator[dict[str, Any]] = rows):
            yield first
            yield from rest

        counts[f"{table}.{column}"] = storage.write_json_array(name, all_rows())
    return counts


def user_events(user_id: str) -> Iterator[dict[str, Any]]:
    after_at, after_id = None, None
    while True:
        with transaction(user_id=user_id) as tx:
            rows = tx.all(
                "SELECT id, channel_id, event_type, metadata, occurred_at FROM"
                " privacy_user_events(:u, CAST(:at AS timestamptz), CAST(:id AS uuid), :n)",
                u=user_id,
                at=after_at,
                id=after_id,
                n=rules.PAGE,
            )
        for r in rows:
            yield {**r, "metadata": _doc(r["metadata"]) if r["metadata"] else {}}
        if len(rows) < rules.PAGE:
            return
        after_at, after_id = rows[-1]["occurred_at"].isoformat(), str(rows[-1]["id"])


def step_analytics(job: dict[str, Any]) -> dict[str, int]:
    n = storage.write_json_array(
        _part(job, "analytics/events.json"), user_events(str(job["user_id"]))
    )
    return {"events": n}


def step_storage(job: dict[str, Any]) -> dict[str, int]:
    """The user's uploads: metadata of each, and the object itself when it is still there."""
    from shared.adapters import gcs_objects

    user_id = str(job["user_id"])
    listing = []
    for row in user_rows(user_id, "uploads", "created_by"):
        name = row.get("object_name")
        info = gcs_objects.describe("media", name) if name else None
        listing.append(
            {
                "upload_id": row["id"],
                "channel_id": row["channel_id"],
                "filename": row.get("filename"),
                "object_name": name,
                "present": info is not None,
                "size": info["size"] if info else None,
                "content_type": info["content_type"] if info else row.get("content_type"),
                "in_archive": bool(info and info["size"] <= MAX_FILE_BYTES),
            }
        )
    storage.write_json(_part(job, "storage/objects.json"), listing)
    return {"objects": len(listing)}


def step_firestore(job: dict[str, Any]) -> dict[str, int]:
    """Documents about the user: `users/{id}` with its subcollections, and every document of
    a top-level collection whose `user_id` field is the user's."""
    user_id = str(job["user_id"])
    docs = list(firestore_documents(user_id))
    storage.write_json(_part(job, "firestore/documents.json"), docs)
    authored = list(firestore_authored(user_id))
    if authored:
        storage.write_json(_part(job, "firestore/authored.json"), authored)
    return {"documents": len(docs), "authored": len(authored)}


def firestore_documents(user_id: str) -> Iterator[dict[str, Any]]:
    from shared.adapters import firestore_docs

    return firestore_docs.user_documents(user_id)


def firestore_authored(user_id: str) -> Iterator[dict[str, Any]]:
    from shared.adapters import firestore_docs

    return firestore_docs.authored_documents(user_id)


# -- channel export ----------------------------------------------------------------------

CHANNEL_TABLES = {
    # file: SQL under the owner's row-level security (the channel's own rows only)
    "courses": "SELECT to_jsonb(t) AS doc, t.ctid::text AS ctid FROM courses t",
    "lessons": "SELECT to_jsonb(t) AS doc, t.ctid::text AS ctid FROM lessons t",
    "batches": "SELECT to_jsonb(t) AS doc, t.ctid::text AS ctid FROM batches t",
    "enrollments": "SELECT to_jsonb(t) AS doc, t.ctid::text AS ctid FROM enrollments t",
    "posts": "SELECT to_jsonb(t) AS doc, t.ctid::text AS ctid FROM posts t",
    "comments": "SELECT to_jsonb(t) AS doc, t.ctid::text AS ctid FROM comments t",
    "payments": "SELECT to_jsonb(t) AS doc, t.ctid::text AS ctid FROM payments t",
    "revenue": "SELECT to_jsonb(t) AS doc, t.ctid::text AS ctid FROM ledger_entries t",
}


def _channel_rows(user_id: str, channel_id: str, sql: str) -> Iterator[dict[str, Any]]:
    after = "(0,0)"
    while True:
        with transaction(channel_id=channel_id, user_id=user_id) as tx:
            if tx.scalar("SELECT to_regclass(:t) IS NULL", t=sql.split(" FROM ")[1].split()[0]):
                return
            rows = tx.all(
                f"{sql} WHERE t.channel_id = app_channel_id() AND t.ctid > CAST(:a AS tid)"
                " ORDER BY t.ctid LIMIT :n",
                a=after,
                n=rules.PAGE,
            )
        for r in rows:
            yield rules.exportable(_doc(r["doc"]))
        if len(rows) < rules.PAGE:
            return
        after = rows[-1]["ctid"]


def _members(user_id: str, channel_id: str) -> Iterator[dict[str, Any]]:
    after = "00000000-0000-0000-0000-000000000000"
    while True:
        with transaction(channel_id=channel_id, user_id=user_id) as tx:
            rows = tx.all(
                "SELECT m.user_id, u.email, u.display_name, m.role, m.created_at"
                " FROM memberships m JOIN users u ON u.id = m.user_id"
                " WHERE m.channel_id = app_channel_id() AND m.user_id > CAST(:a AS uuid)"
                " ORDER BY m.user_id LIMIT :n",
                a=after,
                n=rules.PAGE,
            )
        yield from rows
        if len(rows) < rules.PAGE:
            return
        after = str(rows[-1]["user_id"])


def step_channel(job: dict[str, Any]) -> dict[str, int]:
    from shared.channels import require

    user_id, channel_id = str(job["user_id"]), str(job["channel_id"])
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        require(tx, user_id, "channel.update")  # still a manager (403/404 fail the job)
        channel = tx.one(
            "SELECT id, slug, name, theme, plan, created_at FROM channels"
            " WHERE id = app_channel_id()"
        )
    storage.write_json(_part(job, "channel.json"), dict(channel or {}))
    counts = {
        "members": storage.write_json_array(
            _part(job, "members.json"), _members(user_id, channel_id)
        )
    }
    for name, sql in CHANNEL_TABLES.items():
        counts[name] = storage.write_json_array(
            _part(job, f"{name}.json"), _channel_rows(user_id, channel_id, sql)
        )
    return counts


# -- package -----------------------------------------------------------------------------


def step_package(job: dict[str, Any]) -> dict[str, Any]:
    """Stream every part, the uploads' files and a README into the ZIP; the parts go."""
    job_id = str(job["id"])
    prefix = rules.part_object_name(job_id, "")
    parts = storage.list_names(prefix)
    subject = (
        f"channel {job['channel_id']}"
        if job["kind"] == "channel_export"
        else f"user {job['user_id']}"
    )
    target = rules.export_object_name(job_id, job["kind"], str(job["channel_id"] or job["user_id"]))
    now = datetime.now(UTC).replace(microsecond=0)
    expires = now + rules.EXPORT_TTL
    files: list[str] = []
    with storage.zip_writer(target) as zf:
        for name in parts:
            arc = name[len(prefix) :]
            with storage.open_part(name) as src:
                storage.copy_into(zf, arc, src)
            files.append(arc)
            if arc == "storage/objects.json":
                files += _copy_uploads(zf, name)
        readme = rules.README.format(
            platform="Creator Platform",
            subject=subject,
            generated_at=now.isoformat(),
            expires_at=expires.isoformat(),
            files="\n".join(f"- {f}" for f in sorted(files)),
        )
        zf.writestr("README.md", readme)
    storage.delete_prefix(prefix)
    return {"object_name": target, "expires_at": expires, "files": len(files) + 1}


def _copy_uploads(zf: Any, listing_part: str) -> list[str]:
    with storage.open_part(listing_part) as f:
        listing = json.loads(f.read())
    out = []
    for item in listing:
        if not item.get("in_archive"):
            continue
        base = (item.get("filename") or "file").replace("/", "_")[-100:]
        arc = f"files/{item['upload_id']}-{base}"
        try:
            with storage.open_object("media", item["object_name"]) as src:
                storage.copy_into(zf, arc, src)
        except Exception:  # deleted meanwhile: the listing says what there was
            log.warning("upload object vanished during export", exc_info=True)
            continue
        out.append(arc)
    return out
