"""Domain event `course.completed`, pushed by Pub/Sub (subscription certificate-issuer,
filtered on the event_type attribute) as a CloudEvent: issue the student's certificate.

Returning acks the message (issued, already held, duplicate, or never processable); raising
makes Pub/Sub redeliver it (database briefly unavailable), up to the dead-letter topic.
"""

import functions_framework
from cloudevents.http import CloudEvent

from shared import certificates
from shared.web import pubsub_message, setup_logging

setup_logging()


@functions_framework.cloud_event
def on_course_completed(event: CloudEvent) -> None:
    message = pubsub_message(event.data)
    certificates.on_course_completed(envelope=message.data, attributes=message.attributes)
