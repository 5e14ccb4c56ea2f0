"""Domain events `live_session.rescheduled` / `live_session.cancelled`, pushed by Pub/Sub
(subscription community-notifier) as a CloudEvent: notify the batch's students in-app.

Returning acks the message (notified, duplicate, or never processable); raising makes Pub/Sub
redeliver it, up to the dead-letter topic.
"""

import functions_framework
from cloudevents.http import CloudEvent

from shared import community
from shared.web import pubsub_message, setup_logging

setup_logging()


@functions_framework.cloud_event
def on_live_session_changed(event: CloudEvent) -> None:
    message = pubsub_message(event.data)
    community.on_live_session_changed(envelope=message.data, attributes=message.attributes)
