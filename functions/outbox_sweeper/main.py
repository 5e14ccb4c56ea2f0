"""Cloud Scheduler cron (every minute): republish outbox events the request path left behind,
and drop expired rate-limit windows and idempotency keys."""

import functions_framework

from shared.web import Api, Ctx, run_outbox_sweep

api = Api("outbox_sweeper", tag="Operations")


@api.route("POST", "/_internal/outbox_sweeper", auth="none", summary="Sweep the outbox")
def sweep(ctx: Ctx) -> dict[str, int]:
    return run_outbox_sweep()


sweep_outbox = functions_framework.http(api)
