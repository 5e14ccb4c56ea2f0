"""Domain event `certificate.issued`, pushed by Pub/Sub (subscription certificate-mailer,
filtered on the event_type attribute) as a CloudEvent: mail the holder the links.

Returning acks the message (sent, duplicate, or never processable); raising makes Pub/Sub
redeliver it (mail relay or database briefly unavailable), up to the dead-letter topic.
"""

import functions_framework
from cloudevents.http import CloudEvent

from shared import certificates
from shared.web import pubsub_message, setup_logging

setup_logging()


@functions_framework.cloud_event
def on_certificate_issued(event: CloudEvent) -> None:
    message = pubsub_message(event.data)
    certificates.on_certificate_issued(envelope=message.data, attributes=message.attributes)
