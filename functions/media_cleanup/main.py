"""Domain event `media.released`, pushed by Pub/Sub (subscription media-cleanup, filtered on
the event_type attribute) as a CloudEvent: delete the released objects from the media bucket.

Returning acks the message (done, duplicate, still referenced, or never processable); raising
makes Pub/Sub redeliver it (storage or database briefly unavailable), up to the dead-letter
topic.
"""

import functions_framework
from cloudevents.http import CloudEvent

from shared import media
from shared.web import pubsub_message, setup_logging

setup_logging()


@functions_framework.cloud_event
def on_media_released(event: CloudEvent) -> None:
    message = pubsub_message(event.data)
    media.on_media_released(envelope=message.data, attributes=message.attributes)
