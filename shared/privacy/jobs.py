"""Starting privacy jobs and reading their state: exports (of a user, of a channel) and
erasure. Each job runs as a Cloud Workflows execution (workflows/privacy_*.yaml) whose steps
call the privacy_worker function; one job of a kind runs per user (and channel) at a time."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from shared.adapters import passwords
from shared.channels import check_channel_id, require
from shared.platform import audit
from shared.platform.db import Tx, sqlstate, transaction
from shared.platform.errors import Conflict, Forbidden, NotFound, Unauthorized
from shared.platform.ids import is_uuid, uuid7
from shared.privacy import rules

log = logging.getLogger("privacy")
ZERO = "00000000-0000-0000-0000-000000000000"


def start_user_export(*, user_id: str) -> dict[str, str]:
    return {"job_id": _start("user_export", user_id=user_id, channel_id=None, options={})}


def start_channel_export(*, channel_id: str, user_id: str) -> dict[str, str]:
    channel_id = check_channel_id(channel_id)
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        if require(tx, user_id, "channel.update") != "owner":
            raise Forbidden("Only an owner can export the channel.")
    return {"job_id": _start("channel_export", user_id=user_id, channel_id=channel_id, options={})}


def _start(kind: str, *, user_id: str, channel_id: str | None, options: dict[str, Any]) -> str:
    """The running job of this kind, or a new one started now. Starting the execution after
    the commit: a crash in between leaves a running job with no execution, which `resume`
    (the retention cron) starts again."""
    job_id = uuid7()
    # the channel's context too: a channel export is audited on the channel's chain
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        running = _running(tx, kind, user_id, channel_id)
        if running is not None:
            return running
        try:
            tx.exec("SAVEPOINT job")
            tx.exec(
                "INSERT INTO privacy_jobs (id, kind, user_id, channel_id, options)"
                " VALUES (:id, :k, :u, CAST(:c AS uuid), CAST(:o AS jsonb))",
                id=job_id,
                k=kind,
                u=user_id,
                c=channel_id,
                o=_json(options),
            )
        except Exception as e:
            if sqlstate(e) != "23505":  # a concurrent request inserted it first
                raise
            tx.exec("ROLLBACK TO SAVEPOINT job")
            running = _running(tx, kind, user_id, channel_id)
            if running is None:
                raise
            return running
        audit.record(
            tx,
            action=f"privacy.{kind}_requested",
            channel_id=channel_id,
            actor_user_id=user_id,
            target_type="privacy_job",
            target_id=job_id,
        )
    launch(job_id, kind, user_id)
    return job_id


def _running(tx: Tx, kind: str, user_id: str, channel_id: str | None) -> str | None:
    row = tx.one(
        "SELECT id FROM privacy_jobs WHERE user_id = :u AND kind = :k AND status = 'running'"
        " AND coalesce(channel_id, CAST(:z AS uuid))"
        " = coalesce(CAST(:c AS uuid), CAST(:z AS uuid))",
        u=user_id,
        k=kind,
        c=channel_id,
        z=ZERO,
    )
    return str(row["id"]) if row else None


def launch(job_id: str, kind: str, user_id: str) -> str:
    """Start the job's workflow execution and note its name on the job."""
    from shared.adapters import workflows

    execution = workflows.start(rules.WORKFLOW[kind], {"job_id": job_id, "user_id": user_id})
    with transaction(user_id=user_id) as tx:
        tx.exec(
            "UPDATE privacy_jobs SET execution = :e, updated_at = now() WHERE id = :j",
            e=execution,
            j=job_id,
        )
    log.info("privacy job started", extra={"fields": {"job_id": job_id, "execution": execution}})
    return execution


def export_status(*, user_id: str, job_id: str, channel_id: str | None = None) -> dict[str, Any]:
    if not is_uuid(job_id):
        raise NotFound("No such export.")
    with transaction(user_id=user_id) as tx:
        row = tx.one(
            "SELECT kind, status, object_name, expires_at, channel_id FROM privacy_jobs"
            " WHERE id = :j AND user_id = app_user_id() AND kind <> 'erasure'",
            j=job_id,
        )
    if row is None or (channel_id is not None and str(row["channel_id"]) != channel_id):
        raise NotFound("No such export.")
    return status_of(row)


def status_of(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"status": row["status"], "url": None, "expires_at": None}
    expires: datetime | None = row["expires_at"]
    if row["status"] == "ready" and row["object_name"]:
        from shared.adapters import gcs

        out["url"], _ = gcs.signed_get_url(
            "exports",
            row["object_name"],
            expires_seconds=rules.SIGNED_URL_SECONDS,
            filename=row["object_name"].rsplit("/", 1)[-1],
        )
        out["expires_at"] = expires
    return out


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
        already = _running(tx, "erasure", user_id, None)
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
            o=_json({"delete_posts": bool(delete_posts)}),
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


def _json(v: Any) -> str:
    import json

    return json.dumps(v, sort_keys=True)
