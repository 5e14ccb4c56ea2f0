"""Domain events with a public webhook type, pushed by Pub/Sub (subscription webhook-fanout,
filtered on the event_type attribute) as a CloudEvent: one delivery per endpoint that wants
the event, each queued as a Cloud Task for webhook_delivery.

Returning acks the message (queued, duplicate, not a public event, malformed); raising makes
Pub/Sub redeliver it (database or Cloud Tasks briefly unavailable), up to the dead-letter topic.
"""

import functions_framework
from cloudevents.http import CloudEvent

from shared import integrations
from shared.web import pubsub_message, setup_logging

setup_logging()


@functions_framework.cloud_event
def fan_out_webhooks(event: CloudEvent) -> None:
    message = pubsub_message(event.data)
    integrations.on_domain_event(envelope=message.data, attributes=message.attributes)
