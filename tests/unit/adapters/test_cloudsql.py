"""The cloud path of shared/platform/db.py: one Cloud SQL connector per process, IAM database
auth over the private IP, and the DB-API connection it hands back wrapped for the native API.
The connector itself needs a real instance; a stand-in records what it is asked."""

import pytest
from google.cloud.sql.connector import IPTypes

from shared.adapters import cloudsql
from shared.platform import db
from shared.platform.config import settings


class FakeCursor:
    def __init__(self, log):
        self.log, self.description, self.rowcount = log, [("one",)], 1

    def execute(self, sql, params):
        self.log.append((sql, params, self.paramstyle))

    def fetchall(self):
        return [(1,)]


class FakeDbapi:
    def __init__(self):
        self.executed, self.autocommit = [], False

    def cursor(self):
        return FakeCursor(self.executed)


class FakeConnector:
    made = 0

    def __init__(self, *, refresh_strategy):
        FakeConnector.made += 1
        self.refresh_strategy, self.calls = refresh_strategy, []

    def connect(self, instance, driver, **kwargs):
        self.calls.append((instance, driver, kwargs))
        return FakeDbapi()


@pytest.fixture
def connector(monkeypatch):
    FakeConnector.made = 0
    monkeypatch.setattr(cloudsql, "Connector", FakeConnector)
    monkeypatch.setattr(cloudsql, "_connector", None)
    return FakeConnector


def test_one_lazy_connector_serves_every_connection_with_iam_auth(connector):
    cloudsql.connect(instance="p:r:i", user="fn@p.iam", db="platform")
    cloudsql.connect(instance="p:r:i", user="fn@p.iam", db="platform")
    assert connector.made == 1
    assert cloudsql._connector.refresh_strategy == "lazy"
    assert cloudsql._connector.calls[0] == (
        "p:r:i",
        "pg8000",
        {"user": "fn@p.iam", "db": "platform", "enable_iam_auth": True, "ip_type": IPTypes.PRIVATE},
    )


def test_db_connect_goes_through_the_connector_when_an_instance_is_set(connector, monkeypatch):
    monkeypatch.setenv("CLOUD_SQL_INSTANCE", "p:r:i")
    monkeypatch.setenv("DB_IAM_USER", "fn@p.iam")
    settings.cache_clear()
    try:
        conn = db.connect()
    finally:
        settings.cache_clear()
    assert cloudsql._connector.calls[0][2]["user"] == "fn@p.iam"
    assert conn.run("SELECT 1 AS one WHERE :x", x=True) == [[1]]
    assert conn.columns == [{"name": "one"}]
    assert conn._c.executed == [("SELECT 1 AS one WHERE :x", {"x": True}, "named")]
    assert conn._c.autocommit is True
