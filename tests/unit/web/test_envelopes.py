"""The one decoder of Pub/Sub push, direct CloudEvent and Cloud Tasks envelopes."""

import base64
import json

import pytest

from shared.web.envelopes import cloud_event_data, pubsub_message, task_body


def b64(value) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.b64encode(raw).decode()


def test_a_push_message_decodes_to_its_json_and_string_attributes():
    data = {"message": {"data": b64({"a": 1}), "attributes": {"k": "v", "n": 3}}}
    message = pubsub_message(data)
    assert message.data == {"a": 1}
    assert message.attributes == {"k": "v"}  # non-string attribute values are not attributes
    assert not message.malformed and message.pushed


@pytest.mark.parametrize("value", [[1, 2], "text", 7])
def test_any_json_value_is_carried_as_is(value):
    assert pubsub_message({"message": {"data": b64(value)}}).data == value


@pytest.mark.parametrize("raw", [None, ""])
def test_a_message_without_data_carries_attributes_only(raw):
    message = pubsub_message({"message": {"data": raw, "attributes": {"eventType": "X"}}})
    assert (message.data, message.attributes, message.malformed) == (
        None,
        {"eventType": "X"},
        False,
    )


@pytest.mark.parametrize(
    "data",
    [
        None,
        "not an object",
        {},
        {"message": "not an object"},
        {"message": None},
    ],
)
def test_a_push_without_a_message_is_malformed(data):
    message = pubsub_message(data)
    assert message.malformed and message.data is None and message.attributes == {}


@pytest.mark.parametrize("raw", ["!!!not base64!!!", b64(b"\xff\xfe not json"), b64(b"[1, 2")])
def test_data_that_is_not_base64_json_is_malformed_but_keeps_its_attributes(raw):
    message = pubsub_message({"message": {"data": raw, "attributes": {"k": "v"}}})
    assert message.malformed and message.data is None and message.attributes == {"k": "v"}


def test_attributes_that_are_not_an_object_are_none():
    assert pubsub_message({"message": {"data": b64({}), "attributes": ["k"]}}).attributes == {}


def test_a_cloud_event_is_either_a_push_or_the_object_itself():
    pushed = cloud_event_data({"message": {"data": b64({"name": "o"})}})
    assert pushed.data == {"name": "o"} and pushed.pushed
    direct = cloud_event_data({"bucket": "b", "name": "o"})
    assert direct.data == {"bucket": "b", "name": "o"} and not direct.pushed
    assert not direct.malformed and direct.attributes == {}
    assert cloud_event_data({"message": None, "name": "o"}).data == {"message": None, "name": "o"}


@pytest.mark.parametrize("data", [None, [1], "text", b"bytes"])
def test_a_cloud_event_whose_data_is_not_an_object_is_malformed(data):
    assert cloud_event_data(data).malformed


def test_a_task_body_is_its_fields_or_nothing():
    assert task_body({"upload_id": "u"}) == {"upload_id": "u"}
    assert task_body(None) == {}
    assert task_body([1, 2]) == {}
    assert task_body("text") == {}
