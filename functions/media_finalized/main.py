"""Media bucket OBJECT_FINALIZE, pushed by Pub/Sub (subscription media-finalized) as a
CloudEvent: check the object against its upload; ready (attached) or rejected (deleted).

Returning acks the message (done, duplicate, or never processable); raising makes Pub/Sub
redeliver it (storage or database briefly unavailable), up to the dead-letter topic.
"""

import functions_framework

from shared import media
from shared.platform import log as slog

slog.setup()


@functions_framework.cloud_event
def on_media_finalized(event) -> None:
    media.on_storage_event(event_id=event["id"], event_type=event["type"], data=event.data)
