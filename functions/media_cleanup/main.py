"""Domain event `media.released`, pushed by Pub/Sub (subscription media-cleanup, filtered on
the event_type attribute) as a CloudEvent: delete the released objects from the media bucket.

Returning acks the message (done, duplicate, still referenced, or never processable); raising
makes Pub/Sub redeliver it (storage or database briefly unavailable), up to the dead-letter
topic.
"""

import functions_framework

from shared import media
from shared.platform import log as slog

slog.setup()


@functions_framework.cloud_event
def on_media_released(event) -> None:
    media.on_push(data=event.data)
