"""Pub/Sub publisher (emulator locally via PUBSUB_EMULATOR_HOST). Imported only to publish."""

from __future__ import annotations

import threading
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1

from shared.platform.config import settings

_lock = threading.Lock()
_instance: DomainEventPublisher | None = None


class DomainEventPublisher:
    def __init__(self) -> None:
        s = settings()
        self._client = pubsub_v1.PublisherClient()
        self._topic = self._client.topic_path(s.gcp_project, s.domain_events_topic)

    def publish_event(self, data: bytes, attributes: dict[str, str]) -> Any:
        return self._client.publish(self._topic, data, **attributes)


def publisher() -> DomainEventPublisher:
    global _instance
    if _instance is None:
        with _lock:
            if _instance is None:
                _instance = DomainEventPublisher()
    return _instance
