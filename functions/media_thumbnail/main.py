"""Cloud Tasks worker (queue media-thumbnails): one JPEG thumbnail from a ready lesson video.

Task body: {"channel_id": ..., "upload_id": ...}. A 2xx answer completes the task (also for
tasks that can never succeed: unknown upload, lesson already has a thumbnail); an exception
answers 500 and Cloud Tasks retries with backoff, up to the queue's max_attempts.
"""

import functions_framework
from flask import Request

from shared import media
from shared.web import setup_logging, task_body

setup_logging()


@functions_framework.http
def make_thumbnail(request: Request) -> tuple[dict[str, str], int]:
    body = task_body(request.get_json(silent=True))
    result = media.make_video_thumbnail(
        channel_id=body.get("channel_id"), upload_id=body.get("upload_id")
    )
    return {"result": str(result)}, 200
