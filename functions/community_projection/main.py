"""Community domain events (posts, comments, reactions, notifications, bans), pushed by Pub/Sub
(subscription community-projection, filtered on the event_type attribute) as a CloudEvent:
bring the Firestore realtime projection in step, in order per document.

Returning acks the message (projected, duplicate, stale, malformed); raising makes Pub/Sub
redeliver it (Firestore briefly unavailable), up to the dead-letter topic.
"""

import functions_framework
from cloudevents.http import CloudEvent

from shared import realtime
from shared.web import pubsub_message, setup_logging

setup_logging()


@functions_framework.cloud_event
def project_community_event(event: CloudEvent) -> None:
    message = pubsub_message(event.data)
    realtime.on_domain_event(envelope=message.data, attributes=message.attributes)
