"""Cloud Tasks worker (queue certificate-renders): render one certificate's PDF into the
certificates bucket.

Task body: {"channel_id": ..., "certificate_id": ...}. A 2xx answer completes the task:
rendered, rendered before, or nothing to do (unknown or malformed). A failure raises, the
framework answers 500 and Cloud Tasks retries with backoff.
"""

import functions_framework
from flask import Request

from shared import certificates
from shared.web import setup_logging, task_body

setup_logging()


@functions_framework.http
def render_certificate(request: Request) -> tuple[dict[str, str], int]:
    body = task_body(request.get_json(silent=True))
    outcome = certificates.render_certificate(
        channel_id=body.get("channel_id"), certificate_id=body.get("certificate_id")
    )
    return {"result": outcome}, 200
