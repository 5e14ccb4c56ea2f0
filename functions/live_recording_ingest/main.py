"""Cloud Tasks worker (queue live-recordings): a live class's Zoom recording into the
recordings bucket and a ready video lesson (shared/live/recordings.py).

Task body: {"channel_id", "ingest_id", "download_url", "download_token"}. The token is a
credential: this function never logs the body. A 2xx completes the task (done, or nothing to
do); a transient failure answers 500 and Cloud Tasks retries, resuming where storage stopped.

The Workflow `live_recording` asks the same function where a session's recording stands:
body {"query": "state", "channel_id", "session_id"} answers {"state", ...} (no token there).
"""

import logging

import functions_framework
from flask import Request

from shared import live
from shared.web import setup_logging, task_body

setup_logging()
log = logging.getLogger("live_recording_ingest")


@functions_framework.http
def ingest_live_recording(request: Request) -> tuple[dict, int]:
    body = task_body(request.get_json(silent=True))
    if body.get("query") == "state":
        state = live.recording_state(
            channel_id=body.get("channel_id"), session_id=body.get("session_id")
        )
        return state, 200
    try:
        outcome = live.ingest_recording(
            channel_id=body.get("channel_id"),
            ingest_id=body.get("ingest_id"),
            download_url=body.get("download_url"),
            download_token=body.get("download_token"),
        )
    except live.IngestRetry as e:
        log.warning("recording ingest %s will be retried: %s", body.get("ingest_id"), e)
        return {"result": f"retry: {e}"}, 500
    return {"result": outcome}, 200
