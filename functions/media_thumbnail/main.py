"""Cloud Tasks worker (queue media-thumbnails): one JPEG thumbnail from a ready lesson video.

Task body: {"channel_id": ..., "upload_id": ...}. A 2xx answer completes the task (also for
tasks that can never succeed: unknown upload, lesson already has a thumbnail); an exception
answers 500 and Cloud Tasks retries with backoff, up to the queue's max_attempts.
"""

import functions_framework

from shared import media
from shared.platform import log as slog

slog.setup()


@functions_framework.http
def make_thumbnail(request):
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        body = {}
    result = media.make_video_thumbnail(
        channel_id=body.get("channel_id"), upload_id=body.get("upload_id")
    )
    return {"result": result}, 200
