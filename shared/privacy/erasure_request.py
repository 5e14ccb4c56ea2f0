"""Asking for erasure (DELETE /v1/me): the account stops working at once, then the erasure
workflow runs (shared/privacy/erasure.py has its steps)."""

from __future__ import annotations

import json

from shared.adapters import passwords
from shared.platform import audit
from shared.platform.db import transaction
from shared.platform.errors import Conflict, Forbidden, Unauthorized
from shared.platform.ids import uuid7
from shared.privacy.launching import launch, running_job


def request_erasure(*, user_id: str, password: str, delete_posts: bool) -> dict[str, str]:
    """Password confirmed, the account stops working at once (no login, every token refused),
    then the erasure workflow does the rest. A sole owner of a channel with other members is
    refused (409): the channel must be handed over first."""
    with transaction(user_id=user_id) as tx:
        row = tx.one(
            "SELECT password_hash, erased_at FROM users WHERE id = :u FOR UPDATE", u=user_id
        )
        if row is None:
            raise Unauthorized("Sign in first.")
        already = running_job(tx, "erasure", user_id, None)
        if already is not None:
            return {"job_id": already}
        if row["erased_at"] is None and not passwords.matches(
            row["password_hash"] or passwords.dummy_hash(), password
        ):
            raise Forbidden("The password does not match.")
        owned = [
            str(r["c"]) for r in tx.all("SELECT privacy_sole_owned_channels(:u) AS c", u=user_id)
        ]
        if owned:
            raise Conflict(
                "You are the only owner of a channel with other members: make another member"
                " an owner (or remove the members) first.",
                channels=owned,
            )
        tx.exec(
            "UPDATE users SET erased_at = coalesce(erased_at, now()),"
            " tokens_valid_after = greatest(coalesce(tokens_valid_after, now()), now())"
            " WHERE id = :u",
            u=user_id,
        )
        tx.exec(
            "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = :u"
            " AND revoked_at IS NULL",
            u=user_id,
        )
        job_id = uuid7()
        tx.exec(
            "INSERT INTO privacy_jobs (id, kind, user_id, options)"
            " VALUES (:id, 'erasure', :u, CAST(:o AS jsonb))",
            id=job_id,
            u=user_id,
            o=json.dumps({"delete_posts": bool(delete_posts)}),
        )
        audit.record(
            tx,
            action="privacy.erasure_requested",
            channel_id=None,
            actor_user_id=user_id,
            target_type="privacy_job",
            target_id=job_id,
            details={"delete_posts": bool(delete_posts)},
        )
    launch(job_id, "erasure", user_id)
    return {"job_id": job_id}
