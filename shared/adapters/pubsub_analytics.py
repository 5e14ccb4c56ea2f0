"""Pub/Sub publisher of analytics events to the warehouse's topic (emulator locally via
PUBSUB_EMULATOR_HOST). Apart from the domain events' publisher: only the analytics
maintenance cron imports it, so only it may publish there."""

from __future__ import annotations

import threading
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1

from shared.platform.config import settings

_lock = threading.Lock()
_instance: AnalyticsEventPublisher | None = None


class AnalyticsEventPublisher:
    def __init__(self) -> None:
        s = settings()
        self._client = pubsub_v1.PublisherClient()
        self._topic = self._client.topic_path(s.gcp_project, s.analytics_events_topic)

    def publish_event(self, data: bytes, attributes: dict[str, str]) -> Any:
        return self._client.publish(self._topic, data, **attributes)


def analytics_publisher() -> AnalyticsEventPublisher:
    global _instance
    if _instance is None:
        with _lock:
            if _instance is None:
                _instance = AnalyticsEventPublisher()
    return _instance
