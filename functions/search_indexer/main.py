"""Domain events of channels, courses and lessons, pushed by Pub/Sub (subscription
search-indexer, filtered on the event_type attribute) as a CloudEvent: bring the search
document they touched in step.

Returning acks the message (indexed, duplicate, not indexed, never processable); raising makes
Pub/Sub redeliver it (database briefly unavailable), up to the dead-letter topic.
"""

import functions_framework
from cloudevents.http import CloudEvent

from shared import search
from shared.web import pubsub_message, setup_logging

setup_logging()


@functions_framework.cloud_event
def on_content_changed(event: CloudEvent) -> None:
    message = pubsub_message(event.data)
    search.on_domain_event(envelope=message.data, attributes=message.attributes)
