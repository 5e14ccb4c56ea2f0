"""Cloud Scheduler cron (hourly): mail each member one digest of their unread community
notifications, with a signed one-click unsubscribe link (List-Unsubscribe, RFC 8058)."""

import functions_framework

from shared import community
from shared.web import Api, Ctx

api = Api("community_digest", tag="Operations")


@api.route(
    "POST", "/_internal/community_digest", auth="none", summary="Mail the notification digests"
)
def digest(ctx: Ctx) -> dict[str, int]:
    return {"mailed": community.send_digests()}


send_notification_digests = functions_framework.http(api)
