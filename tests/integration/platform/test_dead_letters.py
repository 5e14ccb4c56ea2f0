"""Dead letters wait on their inspection subscription and the replay tool sends them back."""

import os

import pytest
from google.cloud import pubsub_v1

from scripts import replay_dead_letters as tool
from tests.helpers import eventually, unique

pytestmark = pytest.mark.usefixtures("stack")
TOPIC = "domain-events"


def _drain(subscriber, path):
    while True:
        resp = subscriber.pull(subscription=path, max_messages=100, timeout=3)
        if not resp.received_messages:
            return
        subscriber.acknowledge(
            subscription=path, ack_ids=[m.ack_id for m in resp.received_messages]
        )


def test_dead_letters_are_listed_then_replayed_to_their_topic_once():
    project = os.environ["GCP_PROJECT"]
    dead_topic, inspect = tool.dead_letter_route(TOPIC)
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    _drain(subscriber, subscriber.subscription_path(project, inspect))
    watch = subscriber.subscription_path(project, unique("replay-watch"))
    subscriber.create_subscription(name=watch, topic=publisher.topic_path(project, TOPIC))
    try:
        marker = unique("poison")
        publisher.publish(
            publisher.topic_path(project, dead_topic),
            b'{"n": 1}',
            event_type="test.poison",
            marker=marker,
            CloudPubSubDeadLetterSourceDeliveryCount="10",
        ).result(timeout=10)

        listed = tool.list_messages(project, TOPIC)
        assert [m["attributes"]["marker"] for m in listed] == [marker]
        assert tool.replay(project, TOPIC) == 1  # listing left it in place
        assert tool.list_messages(project, TOPIC) == []  # and replay acked it

        def replayed():
            resp = subscriber.pull(subscription=watch, max_messages=10, timeout=3)
            return [m.message for m in resp.received_messages]

        got = eventually(replayed, timeout=10, what="the replayed message")
        assert [(m.data, m.attributes["marker"]) for m in got] == [(b'{"n": 1}', marker)]
        assert "CloudPubSubDeadLetterSourceDeliveryCount" not in got[0].attributes
    finally:
        subscriber.delete_subscription(subscription=watch)


def test_a_topic_without_dead_letters_is_refused():
    with pytest.raises(SystemExit):
        tool.dead_letter_route("domain-events-dead")
