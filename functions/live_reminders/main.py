"""Cloud Scheduler cron (every 5 minutes): mail each active student of a batch 24 h and 1 h
before its live classes, once per student, session and kind."""

from typing import Any

import functions_framework

from shared import live
from shared.web import Api, Ctx

api = Api("live_reminders", tag="Operations")


@api.route("POST", "/_internal/live_reminders", auth="none", summary="Send due reminders")
def remind(ctx: Ctx) -> dict[str, Any]:
    return live.send_due_reminders()


send_live_reminders = functions_framework.http(api)
