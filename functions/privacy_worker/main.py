"""Internal: one step of a privacy job (export or erasure), called by the Workflows
executions of workflows/privacy_export.yaml and privacy_erasure.yaml. A 5xx makes the
workflow retry the step; every step is idempotent."""

from typing import Any

import functions_framework

from shared import privacy
from shared.privacy.schemas import StepIn, StepOut
from shared.web import Api, Ctx

api = Api("privacy_worker", tag="Operations")


@api.route(
    "POST",
    "/_internal/privacy_worker",
    auth="none",
    body=StepIn,
    response=StepOut,
    summary="Run one step of a privacy job (`plan`: the steps left; `fail`: give up)",
    errors={404: "No such job", 422: "No such step for this job"},
)
def step(ctx: Ctx) -> dict[str, Any]:
    b = ctx.body
    if b.step == "plan":
        return privacy.plan_job(job_id=b.job_id, user_id=b.user_id)
    if b.step == "fail":
        return privacy.fail_job(job_id=b.job_id, user_id=b.user_id, error=b.error or "")
    return privacy.run_step(job_id=b.job_id, user_id=b.user_id, step=b.step)


run_privacy_step = functions_framework.http(api)
