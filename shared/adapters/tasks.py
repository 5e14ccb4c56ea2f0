"""Cloud Tasks: enqueue one HTTP task for a worker function (the emulator locally).

Task names are derived from a caller-chosen id, so enqueuing the same work twice is a no-op
(Cloud Tasks refuses a duplicate name), which makes producers safe to retry.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from google.api_core.exceptions import AlreadyExists
from google.cloud import tasks_v2

from shared.platform.config import settings

_lock = threading.Lock()
_client: tasks_v2.CloudTasksClient | None = None


def _tasks_client() -> tasks_v2.CloudTasksClient:
    global _client
    with _lock:
        if _client is None:
            host = settings().cloud_tasks_emulator_host
            if host:
                import grpc
                from google.cloud.tasks_v2.services.cloud_tasks.transports import (
                    CloudTasksGrpcTransport,
                )

                transport = CloudTasksGrpcTransport(channel=grpc.insecure_channel(host))
                _client = tasks_v2.CloudTasksClient(transport=transport)
            else:
                _client = tasks_v2.CloudTasksClient()
    return _client


def enqueue(*, queue: str, function: str, payload: dict[str, Any], task_id: str) -> bool:
    """Queue `payload` for `function`; False when a task with this id already exists."""
    s = settings()
    client = _tasks_client()
    parent = client.queue_path(s.gcp_project, s.tasks_location, queue)
    http: dict[str, Any] = {
        "http_method": tasks_v2.HttpMethod.POST,
        "url": s.task_target(function),
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(payload).encode(),
    }
    if s.tasks_invoker_service_account:
        http["oidc_token"] = {"service_account_email": s.tasks_invoker_service_account}
    task = {"name": f"{parent}/tasks/{task_id}", "http_request": http}
    try:
        client.create_task(request={"parent": parent, "task": task})
    except AlreadyExists:
        return False
    return True
