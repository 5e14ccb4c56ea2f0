"""The one decoder of what event functions receive: Pub/Sub push, direct CloudEvents and
Cloud Tasks HTTP bodies. Functions decode here and hand plain data to their use case.

- Pub/Sub push (what the cloud and the local stack deliver to an event function): a CloudEvent
  whose data is `{"message": {"data": <base64 JSON>, "attributes": {...}, ...}}`.
- Direct CloudEvent (e.g. a storage trigger): the data is the JSON object itself.
- Cloud Tasks HTTP target: the request's JSON body.

Nothing here raises on bad input: a malformed envelope will never parse, so the caller acks
it (returns) after logging; raising would have it redelivered forever.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Message:
    """A decoded envelope. `data` is the JSON value carried (None when there was none or it
    did not decode); `malformed` tells the two apart; `pushed` is False for a direct
    CloudEvent, whose data is the object itself."""

    data: Any = None
    attributes: dict[str, str] = field(default_factory=dict)
    malformed: bool = False
    pushed: bool = True


MALFORMED = Message(malformed=True)


def _attributes(message: dict[str, Any]) -> dict[str, str]:
    attrs = message.get("attributes")
    if not isinstance(attrs, dict):
        return {}
    return {str(k): v for k, v in attrs.items() if isinstance(v, str)}


def pubsub_message(data: Any) -> Message:
    """The message of a Pub/Sub push CloudEvent's data (`{"message": {...}}`). A message
    without data decodes to data None (not malformed: some notifications carry attributes
    only); data that is not base64 of JSON is malformed."""
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        return MALFORMED
    attrs = _attributes(message)
    raw = message.get("data")
    if raw in (None, ""):
        return Message(None, attrs)
    try:
        return Message(json.loads(base64.b64decode(raw, validate=True)), attrs)
    except (ValueError, TypeError, binascii.Error):
        return Message(None, attrs, malformed=True)


def cloud_event_data(data: Any) -> Message:
    """A CloudEvent's data, whether a Pub/Sub push (decoded as `pubsub_message`) or a direct
    event whose data is a JSON object (`pushed` False, no attributes)."""
    if not isinstance(data, dict):
        return MALFORMED
    if data.get("message") is None:
        return Message(data, {}, pushed=False)
    return pubsub_message(data)


def task_body(body: Any) -> dict[str, Any]:
    """A Cloud Tasks HTTP body (the request's parsed JSON, or None): its fields, or {} when it
    is not a JSON object."""
    return body if isinstance(body, dict) else {}
