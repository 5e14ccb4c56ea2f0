"""Domain event `live_session.rescheduled`, pushed by Pub/Sub (subscription live-notices) as a
CloudEvent: mail each active student of the batch the new time.

Returning acks the message; raising (mail relay or database down) makes Pub/Sub redeliver it,
up to the dead-letter topic. Each student is mailed once per event.
"""

import functions_framework
from cloudevents.http import CloudEvent

from shared import live
from shared.web import pubsub_message, setup_logging

setup_logging()


@functions_framework.cloud_event
def on_live_session_moved(event: CloudEvent) -> None:
    message = pubsub_message(event.data)
    live.on_session_rescheduled(envelope=message.data, attributes=message.attributes)
