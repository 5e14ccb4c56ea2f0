"""Cloud Scheduler cron (every 5 minutes): analytics partitions ahead of time, daily rollups
of the last two days, and pruning of stale player sessions."""

import functions_framework

from shared import analytics
from shared.web import Api, Ctx

api = Api("analytics_maintenance", tag="Operations")


@api.route(
    "POST",
    "/_internal/analytics_maintenance",
    auth="none",
    summary="Maintain analytics partitions and rollups",
)
def maintain(ctx: Ctx) -> dict[str, int]:
    return analytics.maintain()


maintain_analytics = functions_framework.http(api)
