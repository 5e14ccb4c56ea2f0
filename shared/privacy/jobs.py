"""Starting privacy jobs and reading their state: exports (of a user, of a channel) and
erasure. Each job runs as a Cloud Workflows execution (workflows/privacy_*.yaml) whose steps
call the privacy_worker function; one job of a kind runs per user (and channel) at a time."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from shared.channels import check_channel_id, require
from shared.platform import audit
from shared.platform.db import sqlstate, transaction
from shared.platform.errors import Forbidden, NotFound
from shared.platform.ids import is_uuid, uuid7
from shared.privacy import rules
from shared.privacy.launching import launch, running_job

log = logging.getLogger("privacy")


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
        running = running_job(tx, kind, user_id, channel_id)
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
            running = running_job(tx, kind, user_id, channel_id)
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


def _json(v: Any) -> str:
    import json

    return json.dumps(v, sort_keys=True)
