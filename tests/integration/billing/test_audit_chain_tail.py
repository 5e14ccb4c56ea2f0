"""Issue 16 item 1: the audit chain's tail lookup (run by the audit_chain trigger on every
append, under the chain's lock) is served by the audit_log_chain index, so a flood of rows on
one chain no longer makes every other append scan the table."""

from __future__ import annotations

import pytest

from shared.platform import audit
from shared.platform.db import transaction

pytestmark = pytest.mark.usefixtures("stack")
ZERO = "00000000-0000-0000-0000-000000000000"
# The lookup audit_chain() ran until migration 0034 (kept here to show the check discriminates).
OLD_LOOKUP = (
    "SELECT seq, hash FROM audit_log WHERE channel_id IS NOT DISTINCT FROM CAST(:c AS uuid)"
    " ORDER BY seq DESC LIMIT 1"
)


@pytest.fixture
def admin(admin_db):
    conn = admin_db()
    yield conn
    conn.close()


def plan(admin, sql: str, **params) -> str:
    admin.run("BEGIN")
    try:
        # Forbid the sequential scan: a lookup the index can serve then shows the index; one
        # it cannot serve still shows a (disabled) Seq Scan, whatever the table's size.
        admin.run("SET LOCAL enable_seqscan = off")
        rows = admin.run("EXPLAIN " + sql, **params)
    finally:
        admin.run("ROLLBACK")
    return "\n".join(r[0] for r in rows)


@pytest.mark.parametrize("channel", [None, ZERO.replace("0", "1")])
def test_chain_tail_lookup_uses_the_chain_index(admin, channel):
    explained = plan(admin, "SELECT * FROM audit_chain_tail(CAST(:c AS uuid))", c=channel)
    assert "audit_log_chain" in explained and "Seq Scan" not in explained, explained
    old = plan(admin, OLD_LOOKUP, c=channel)
    assert "Seq Scan" in old, old  # what the trigger did before: no index can serve it


def test_the_trigger_looks_the_tail_up_through_it(admin):
    [[source]] = admin.run("SELECT pg_get_functiondef('audit_chain()'::regprocedure)")
    assert "audit_chain_tail(NEW.channel_id)" in source
    assert "IS NOT DISTINCT FROM" not in source


def test_appends_still_chain(admin):
    with transaction() as tx:
        for n in range(3):
            audit.record(
                tx,
                action="test.chain_tail",
                channel_id=None,
                actor_user_id=None,
                details={"n": n},
            )
    rows = admin.run(
        "SELECT seq, prev_hash, hash FROM audit_log WHERE channel_id IS NULL"
        " ORDER BY seq DESC LIMIT 3"
    )
    newest, middle, oldest = rows
    assert newest[0] == middle[0] + 1 == oldest[0] + 2
    assert bytes(newest[1]) == bytes(middle[2]) and bytes(middle[1]) == bytes(oldest[2])
