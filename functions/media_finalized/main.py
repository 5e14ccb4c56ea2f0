"""Media bucket OBJECT_FINALIZE, pushed by Pub/Sub (subscription media-finalized) as a
CloudEvent: check the object against its upload; ready (attached) or rejected (deleted).

Returning acks the message (done, duplicate, or never processable); raising makes Pub/Sub
redeliver it (storage or database briefly unavailable), up to the dead-letter topic.
"""

import functions_framework
from cloudevents.http import CloudEvent

from shared import media
from shared.web import cloud_event_data, setup_logging

setup_logging()


@functions_framework.cloud_event
def on_media_finalized(event: CloudEvent) -> None:
    message = cloud_event_data(event.data)
    obj = message.data if message.data is not None else {}
    media.on_storage_event(
        event_id=event["id"],
        event_type=event["type"],
        obj=None if message.malformed or not isinstance(obj, dict) else obj,
        attributes=message.attributes,
    )
