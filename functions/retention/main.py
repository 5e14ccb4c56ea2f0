"""Cloud Scheduler cron (hourly): delete what is past its retention (expired exports, posts
deleted 30 days ago, expired idempotency keys, rate-limit counters and refresh tokens), in
small batches."""

import functions_framework

from shared import privacy
from shared.privacy.schemas import RetentionOut
from shared.web import Api, Ctx

api = Api("retention", tag="Operations")


@api.route(
    "POST",
    "/_internal/retention",
    auth="none",
    response=RetentionOut,
    summary="Apply the retention rules",
)
def retain(ctx: Ctx) -> dict[str, dict[str, int]]:
    return {"deleted": privacy.run_retention()}


apply_retention = functions_framework.http(api)
