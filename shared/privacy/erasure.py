"""The erasure steps (workflows/privacy_erasure.yaml), each idempotent and resumable: a step
run twice finds nothing left to do.

The account stopped working when the erasure was asked for (jobs.request_erasure). Then:
- stripe: the Stripe customers of channels the user owned alone are deleted at Stripe;
- postgres: sessions and secrets deleted, authorship of posts and comments detached (and the
  content deleted when asked, posts out of the search index too: migration 0106), the
  user's email, name and client addresses replaced by a stable pseudonym in every text and
  JSON column of every table (search_documents included), the audit log's personal
  data deleted (the chain itself holds none and still verifies), the profile pseudonymised;
- analytics: personal values in the user's events replaced (the counts stay);
- storage: the user's exports deleted;
- firestore: the documents about the user deleted;
- finish: the erasure recorded in the audit log (ids only).
Financial, ledger and audit rows are kept, linked to the user id, which names nobody now.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.platform import audit
from shared.platform.db import transaction
from shared.privacy import rules, storage
from shared.privacy.export import firestore_authored, firestore_documents, user_columns

log = logging.getLogger("privacy")


def identifiers(job: dict[str, Any]) -> dict[str, Any]:
    """What to look for, saved on the job at the first step: the profile is pseudonymised by
    the postgres step, and a resumed erasure must still know what it is erasing."""
    user_id = str(job["user_id"])
    saved = (job.get("options") or {}).get("identifiers")
    if saved:
        return dict(saved)
    with transaction(user_id=user_id) as tx:
        row = tx.one("SELECT email, display_name FROM users WHERE id = :u", u=user_id)
        ips = [
            r["ip"]
            for r in tx.all(
                "SELECT DISTINCT data->>'ip' AS ip FROM privacy_user_audit_data(:u)", u=user_id
            )
            if r["ip"]
        ]
        found = {
            "emails": rules.email_variants(row["email"]) if row else [],
            "names": [row["display_name"]] if row else [],
            "ips": sorted(ip for ip in ips if rules.scrubbable_address(ip)),
        }
        if row and row["email"] == rules.pseudonymous_email(user_id):
            found = {"emails": [], "names": [], "ips": []}  # already pseudonymised
        tx.exec(
            "UPDATE privacy_jobs SET options = jsonb_set(options, '{identifiers}',"
            " CAST(:f AS jsonb)), updated_at = now() WHERE id = :j",
            f=storage.dumps(found),
            j=str(job["id"]),
        )
    return found


def step_stripe(job: dict[str, Any]) -> dict[str, int]:
    """Customers of channels where the user is the only member left (their own channels): the
    customer holds the user's name and email at Stripe. A channel with other owners keeps its
    billing customer, which belongs to the business."""
    from shared.adapters import stripe_api

    user_id = str(job["user_id"])
    with transaction(user_id=user_id) as tx:
        channels = [
            str(r["channel_id"])
            for r in tx.all(
                "SELECT channel_id FROM memberships WHERE user_id = :u AND role = 'owner'",
                u=user_id,
            )
        ]
    deleted = 0
    for channel_id in channels:
        with transaction(channel_id=channel_id, user_id=user_id) as tx:
            others = tx.scalar(
                "SELECT count(*) FROM memberships WHERE channel_id = app_channel_id()"
                " AND user_id <> :u",
                u=user_id,
            )
            customer = tx.scalar(
                "SELECT stripe_customer_id FROM channel_subscriptions"
                " WHERE channel_id = app_channel_id()"
            )
        if others or not customer:
            continue
        deleted += int(stripe_api.delete_customer(customer))
    return {"customers_deleted": deleted}


def step_postgres(job: dict[str, Any]) -> dict[str, int]:
    user_id = str(job["user_id"])
    found = identifiers(job)
    delete_posts = bool((job.get("options") or {}).get("delete_posts"))
    stats = {"deleted": 0, "detached": 0, "scrubbed": 0}
    for table, column in user_columns(user_id):
        action = rules.erasure_action(table, column)
        if action == "delete":
            stats["deleted"] += _delete_rows(user_id, table, column)
        elif action == "detach":
            with transaction(user_id=user_id) as tx:
                n = tx.scalar(
                    "SELECT privacy_detach_user(:u, :t, :c, :d)",
                    u=user_id,
                    t=table,
                    c=column,
                    d=delete_posts,
                )
            stats["detached"] += int(n or 0)
    with transaction(user_id=user_id) as tx:
        tables = [r["t"] for r in tx.all("SELECT privacy_scrub_tables() AS t")]
    # One table per transaction: no run holds many locks for long.
    for table in tables:
        if table != "privacy_jobs":  # the job keeps what it looks for until step_finish
            stats["scrubbed"] += _scrub(user_id, table, found)
    with transaction(user_id=user_id) as tx:
        stats["audit_personal_data"] = int(
            tx.scalar("SELECT privacy_erase_audit_data(:u)", u=user_id) or 0
        )
        tx.exec("DELETE FROM idempotency_keys WHERE user_key = :u", u=user_id)
        tx.exec(
            "UPDATE users SET email = :e, display_name = :n, password_hash = NULL,"
            " erased_at = coalesce(erased_at, now()) WHERE id = :u",
            e=rules.pseudonymous_email(user_id),
            n=rules.DELETED_USER,
            u=user_id,
        )
    return stats


def _delete_rows(user_id: str, table: str, column: str) -> int:
    total = 0
    while True:
        with transaction(user_id=user_id) as tx:
            n = int(
                tx.scalar(
                    "SELECT privacy_delete_user_rows(:u, :t, :c, :n)",
                    u=user_id,
                    t=table,
                    c=column,
                    n=rules.PAGE,
                )
                or 0
            )
        total += n
        if n < rules.PAGE:
            return total


SCRUB = "SELECT privacy_scrub_table(:t, :n, :r, :anywhere, CAST(:u AS uuid))"


def _scrub(user_id: str, table: str, found: dict[str, Any]) -> int:
    """Emails and addresses wherever they appear; the name as a whole value, in the user's
    own rows where the table says whose a row is (migration 0098)."""
    n = 0
    with transaction(user_id=user_id) as tx:
        if table == "rate_limit_counters":
            # counters keyed by an address or an email are simply dropped
            for needle in found["emails"] + found["ips"]:
                n += tx.exec(
                    "DELETE FROM rate_limit_counters WHERE strpos(bucket, :n) > 0", n=needle
                )
            return n
        pseudo_email = rules.pseudonymous_email(user_id)
        for email in found["emails"]:
            n += int(tx.scalar(SCRUB, t=table, n=email, r=pseudo_email, anywhere=True, u=None) or 0)
        if table != "audit_personal_data":  # others' rows there keep their own addresses
            for ip in found["ips"]:
                n += int(tx.scalar(SCRUB, t=table, n=ip, r="0.0.0.0", anywhere=True, u=None) or 0)
        for name in found["names"]:
            n += int(
                tx.scalar(SCRUB, t=table, n=name, r=rules.DELETED_USER, anywhere=False, u=user_id)
                or 0
            )
    return n


def step_analytics(job: dict[str, Any]) -> dict[str, int]:
    user_id = str(job["user_id"])
    found = identifiers(job)
    n = 0
    with transaction(user_id=user_id) as tx:
        for needle in found["emails"] + found["ips"]:
            n += int(
                tx.scalar(
                    "SELECT privacy_scrub_user_events(:u, :n, :r)",
                    u=user_id,
                    n=needle,
                    r=rules.pseudonym(user_id),
                )
                or 0
            )
    return {"events_scrubbed": n}


def step_storage(job: dict[str, Any]) -> dict[str, int]:
    """The user's own exports: personal data by definition. Course material a creator
    uploaded belongs to the channel's courses and stays with them."""
    user_id = str(job["user_id"])
    n = storage.delete_prefix(f"privacy/user_export/{user_id}/")
    with transaction(user_id=user_id) as tx:
        tx.exec(
            "UPDATE privacy_jobs SET status = 'expired', object_name = NULL, updated_at = now()"
            " WHERE user_id = :u AND kind = 'user_export' AND status = 'ready'",
            u=user_id,
        )
    return {"objects_deleted": n}


def step_firestore(job: dict[str, Any]) -> dict[str, int]:
    from shared.adapters import firestore_docs

    user_id = str(job["user_id"])
    n = 0
    for doc in list(firestore_documents(user_id)):
        firestore_docs.delete(doc["path"])
        n += 1
    # projected posts and comments follow Postgres: written by a deleted user, or deleted
    delete_posts = bool((job.get("options") or {}).get("delete_posts"))
    detached = 0
    for doc in list(firestore_authored(user_id)):
        if delete_posts:
            firestore_docs.delete(doc["path"])
        else:
            firestore_docs.update(
                doc["path"], {"author": {"user_id": None, "display_name": rules.DELETED_USER}}
            )
        detached += 1
    return {"documents_deleted": n, "authored_detached": detached}


def step_finish(job: dict[str, Any]) -> dict[str, int]:
    user_id = str(job["user_id"])
    with transaction(user_id=user_id) as tx:
        audit.record(
            tx,
            action="privacy.erased",
            channel_id=None,
            actor_user_id=user_id,
            target_type="user",
            target_id=user_id,
            details={"job_id": str(job["id"])},
        )
        # what was looked for is itself personal data: it goes with the job's end
        tx.exec(
            "UPDATE privacy_jobs SET options = options - 'identifiers' WHERE id = :j",
            j=str(job["id"]),
        )
    return {}
