"""The privacy worker's entry: run one step of a job (the workflow calls it step by step).

A step already done answers at once (a retried or resumed execution repeats nothing); a job
that failed is taken up again by the next execution started for it (resumable)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared.platform import audit
from shared.platform.db import transaction
from shared.platform.errors import NotFound, Unprocessable
from shared.platform.ids import is_uuid
from shared.privacy import erasure, export, rules

log = logging.getLogger("privacy")

Step = Callable[[dict[str, Any]], dict[str, Any]]
STEPS: dict[str, dict[str, Step]] = {
    "user_export": {
        "postgres": export.step_postgres,
        "analytics": export.step_analytics,
        "storage": export.step_storage,
        "firestore": export.step_firestore,
        "package": export.step_package,
    },
    "channel_export": {"channel": export.step_channel, "package": export.step_package},
    "erasure": {
        "stripe": erasure.step_stripe,
        "postgres": erasure.step_postgres,
        "analytics": erasure.step_analytics,
        "storage": erasure.step_storage,
        "firestore": erasure.step_firestore,
        "finish": erasure.step_finish,
    },
}


def _job(job_id: str, user_id: str) -> dict[str, Any]:
    if not (is_uuid(job_id) and is_uuid(user_id)):
        raise NotFound("No such job.")
    with transaction(user_id=user_id) as tx:
        row = tx.one(
            "SELECT id, kind, user_id, channel_id, status, options, steps_done"
            " FROM privacy_jobs WHERE id = :j AND user_id = app_user_id()",
            j=job_id,
        )
    if row is None:
        raise NotFound("No such job.")
    job = dict(row)
    if isinstance(job["options"], str):
        import json

        job["options"] = json.loads(job["options"])
    job["steps_done"] = list(job["steps_done"] or [])
    return job


def plan(*, job_id: str, user_id: str) -> dict[str, Any]:
    """The steps still to run, in order (a failed job is running again from here on)."""
    job = _job(job_id, user_id)
    if job["status"] == "failed":
        with transaction(user_id=user_id) as tx:
            tx.exec(
                "UPDATE privacy_jobs SET status = 'running', error = NULL, updated_at = now()"
                " WHERE id = :j AND status = 'failed'",
                j=job_id,
            )
        job["status"] = "running"
    todo = (
        [s for s in rules.STEPS[job["kind"]] if s not in job["steps_done"]]
        if job["status"] == "running"
        else []
    )
    return {"job_id": job_id, "kind": job["kind"], "steps": todo}


def run_step(*, job_id: str, user_id: str, step: str) -> dict[str, Any]:
    job = _job(job_id, user_id)
    steps = STEPS[job["kind"]]
    if step not in steps:
        raise Unprocessable(f"No step {step!r} for a {job['kind']} job.")
    if job["status"] != "running" or step in job["steps_done"]:
        return _answer(job, step)
    result = steps[step](job)
    done = [*job["steps_done"], step]
    finished = rules.next_step(job["kind"], done) is None
    channel_id = str(job["channel_id"]) if job["channel_id"] else None
    with transaction(channel_id=channel_id, user_id=user_id) as tx:
        tx.exec(
            "UPDATE privacy_jobs SET steps_done = array_append(steps_done, CAST(:s AS text)),"
            " updated_at = now() WHERE id = :j AND NOT (CAST(:s AS text) = ANY(steps_done))",
            s=step,
            j=job_id,
        )
        if step == "package":
            expires: datetime = result["expires_at"]
            tx.exec(
                "UPDATE privacy_jobs SET status = 'ready', object_name = :o,"
                " expires_at = :e, finished_at = now() WHERE id = :j",
                o=result["object_name"],
                e=expires,
                j=job_id,
            )
            audit.record(
                tx,
                action=f"privacy.{job['kind']}_ready",
                channel_id=channel_id,
                actor_user_id=user_id,
                target_type="privacy_job",
                target_id=job_id,
            )
        elif finished:
            tx.exec(
                "UPDATE privacy_jobs SET status = 'done', finished_at = now() WHERE id = :j",
                j=job_id,
            )
    job["steps_done"] = done
    log.info("privacy step done", extra={"fields": {"job_id": job_id, "step": step}})
    return _answer(job, step)


def fail(*, job_id: str, user_id: str, error: str) -> dict[str, Any]:
    """The workflow gave up: the job says so (an export can be asked for again)."""
    job = _job(job_id, user_id)
    with transaction(user_id=user_id) as tx:
        tx.exec(
            "UPDATE privacy_jobs SET status = 'failed', error = :e, updated_at = now()"
            " WHERE id = :j AND status = 'running'",
            e=error[:2000],
            j=job_id,
        )
    return {"job_id": job_id, "kind": job["kind"], "steps": []}


def _answer(job: dict[str, Any], step: str) -> dict[str, Any]:
    nxt = rules.next_step(job["kind"], job["steps_done"])
    return {"job_id": str(job["id"]), "step": step, "done": nxt is None, "next": nxt}
