"""Cloud Tasks worker (queue webhook-deliveries): one signed POST of one webhook delivery.

Task body: {"channel_id": ..., "delivery_id": ...}. A 2xx answer completes the task: delivered,
or nothing to do (unknown delivery, already delivered, endpoint disabled or deleted, retries
given up). A failed attempt answers 500 and Cloud Tasks retries with exponential backoff.
"""

import functions_framework
from flask import Request

from shared import integrations
from shared.web import setup_logging, task_body

setup_logging()


@functions_framework.http
def deliver_webhook(request: Request) -> tuple[dict[str, str], int]:
    body = task_body(request.get_json(silent=True))
    try:
        outcome = integrations.deliver(
            channel_id=body.get("channel_id"), delivery_id=body.get("delivery_id")
        )
    except integrations.DeliveryFailed as e:
        return {"result": f"retry: {e}"}, 500
    return {"result": str(outcome)}, 200
