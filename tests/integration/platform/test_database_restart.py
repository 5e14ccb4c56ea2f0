"""Issue 16 item 14: a database restart must not answer 500s.

Cloud SQL maintenance or a failover ends every server session; each pooled connection then
fails on its next use. The fault here is exactly that: the superuser terminates every backend
of the application login (`pg_terminate_backend`), as a restart would, while the pools of this
process and of the gateway's workers hold idle connections.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest
import requests

from shared.platform import db
from tests.helpers import eventually, make_channel, signup


@pytest.fixture
def app_login(stack) -> str:
    return urlparse(stack.env["DATABASE_URL"]).username


@pytest.fixture
def terminate(admin_db, app_login):
    """End every server session of the application login; answer once they are all gone."""
    admin = admin_db("superuser")

    def run() -> int:
        rows = admin.run(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE usename = :u AND pid <> pg_backend_pid()",
            u=app_login,
        )
        pids = [r[0] for r in rows]
        eventually(
            lambda: admin.run(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(CAST(:p AS int[]))",
                p=pids,
            )[0][0],
            until=lambda n: n == 0,
            timeout=10,
            interval=0.05,
        )
        return len(pids)

    return run


def backend_pid(tx: db.Tx) -> int:
    return tx.scalar("SELECT pg_backend_pid()")


def test_a_transaction_after_the_restart_runs_on_a_new_connection(terminate, monkeypatch):
    failures: list[BaseException] = []
    seen = db.connection_lost
    monkeypatch.setattr(db, "connection_lost", lambda e: failures.append(e) or seen(e))
    with db.transaction() as tx:
        before = backend_pid(tx)
    assert terminate() >= 1
    with db.transaction() as tx:  # was: pg8000 InterfaceError / 57P01 (a 500)
        after = backend_pid(tx)
    assert after != before
    assert failures == []  # the checkout saw it dead: no round trip on it failed


def test_a_single_statement_after_the_restart_runs_on_a_new_connection(terminate):
    before = db.call("SELECT pg_backend_pid() AS pid, 1 AS one")[0]["pid"]
    assert terminate() >= 1
    rows = db.call("SELECT pg_backend_pid() AS pid, CAST(:x AS int) AS one", x=1)
    assert rows[0]["one"] == 1 and rows[0]["pid"] != before


def test_begin_retries_once_when_the_checkout_could_not_tell(terminate, monkeypatch):
    """A connection can die unseen (a failover answers the next packet with a reset): the
    checkout's poll then passes it, and the transaction's first round trip must recover."""
    with db.transaction() as tx:
        before = backend_pid(tx)
    monkeypatch.setattr(db, "_alive", lambda conn: True, raising=False)
    assert terminate() >= 1
    with db.transaction() as tx:
        after = backend_pid(tx)
    assert after != before


def test_requests_under_load_across_restarts_never_answer_500(gateway_url, terminate):
    user = signup(gateway_url, name="Restart")
    channel = make_channel(gateway_url, user)
    headers = user.headers
    paths = ["/v1/me", f"/v1/channels/{channel['id']}"]

    def get(i: int) -> int:
        url = gateway_url + paths[i % len(paths)]
        return requests.get(url, headers=headers, timeout=20).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        assert set(pool.map(get, range(48))) == {200}  # every worker's pool is filled
        answers: Counter[int] = Counter()
        for _ in range(3):
            assert terminate() >= 2  # the gateway's idle connections, and this process's
            answers.update(pool.map(get, range(48)))
    assert answers[500] == 0, answers
    assert set(answers) <= {200, 503}, answers
    assert answers[200] >= 0.9 * sum(answers.values()), answers
