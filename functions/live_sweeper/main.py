"""Cloud Scheduler cron (every 10 minutes): delete meetings a crash left at Zoom between
creating them and storing their session (shared/live/sweeper.py)."""

import functions_framework

from shared import live
from shared.web import Api, Ctx

api = Api("live_sweeper", tag="Operations")


@api.route("POST", "/_internal/live_sweeper", auth="none", summary="Sweep orphan meetings")
def sweep(ctx: Ctx) -> dict[str, int]:
    return live.sweep_orphan_meetings()


sweep_live = functions_framework.http(api)
