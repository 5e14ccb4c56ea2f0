"""Cloud SQL Python Connector: connections to the Cloud SQL instance with IAM database auth
over its private IP. Cloud only: shared/platform/db.py imports this module lazily, when
CLOUD_SQL_INSTANCE is set, so local runs and tests never load the connector."""

from __future__ import annotations

from typing import Any

from google.cloud.sql.connector import Connector, IPTypes

_connector: Connector | None = None


def connect(*, instance: str, user: str | None, db: str) -> Any:
    """A DB-API (pg8000) connection to `instance` as the IAM database user `user`."""
    global _connector
    if _connector is None:
        # "lazy": background refresh is throttled when a serverless instance's CPU is idle.
        _connector = Connector(refresh_strategy="lazy")
    return _connector.connect(
        instance, "pg8000", user=user, db=db, enable_iam_auth=True, ip_type=IPTypes.PRIVATE
    )
