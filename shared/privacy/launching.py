"""Starting a privacy job's workflow execution, and finding the job already running. Small on
purpose: the auth function (DELETE /v1/me) imports it without the export machinery."""

from __future__ import annotations

import logging

from shared.platform.db import Tx, transaction
from shared.privacy import rules

log = logging.getLogger("privacy")
ZERO = "00000000-0000-0000-0000-000000000000"


def running_job(tx: Tx, kind: str, user_id: str, channel_id: str | None) -> str | None:
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
