"""Tenant isolation is enforced by Postgres: RLS forced on every tenant table, and a query that
forgets its channel filter still sees nothing of another channel."""

import pytest
from pg8000.native import DatabaseError

from shared.platform import db
from shared.platform.db import transaction
from shared.platform.ids import uuid7
from tests.factories import new_channel, new_user

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture(scope="module")
def two_channels():
    a_owner, b_owner = new_user("A"), new_user("B")
    a, b = new_channel(a_owner, name="A"), new_channel(b_owner, name="B")
    return {"a": a, "b": b, "a_owner": a_owner, "b_owner": b_owner}


def test_every_table_with_channel_id_forces_rls(admin_db):
    conn = admin_db()
    rows = conn.run(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'channel_id'"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT a.attisdropped"
        " AND NOT c.relispartition"
    )
    conn.close()
    assert len(rows) >= 8
    unprotected = [name for name, enabled, forced in rows if not (enabled and forced)]
    assert unprotected == []


def test_app_role_cannot_bypass(admin_db):
    conn = admin_db()
    user = db.settings().database_url.split("//")[1].split(":")[0]
    (row,) = conn.run("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r", r=user)
    owned = conn.run("SELECT count(*) FROM pg_tables WHERE tableowner = :r", r=user)[0][0]
    conn.close()
    assert row == [False, False] and owned == 0


def test_unfiltered_query_sees_only_the_transactions_channel(two_channels):
    with transaction(channel_id=two_channels["a"]) as tx:
        seen = {str(r["channel_id"]) for r in tx.all("SELECT channel_id FROM memberships")}
        audit = {str(r["channel_id"]) for r in tx.all("SELECT channel_id FROM audit_log")}
        events = {str(r["channel_id"]) for r in tx.all("SELECT channel_id FROM outbox")}
    assert seen == {two_channels["a"]}
    assert audit == {two_channels["a"]}
    assert events <= {two_channels["a"]} and events


def test_no_context_means_no_tenant_rows(two_channels):
    with transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM memberships") == 0
        assert tx.scalar("SELECT count(*) FROM outbox") == 0
        assert tx.scalar("SELECT count(*) FROM audit_log") == 0


def test_write_with_another_channels_id_fails_the_policy(two_channels):
    with pytest.raises(DatabaseError) as err, transaction(channel_id=two_channels["a"]) as tx:
        tx.exec(
            "INSERT INTO outbox (id, channel_id, event_type, payload) VALUES (:id, :c, 'x', '{}')",
            id=uuid7(),
            c=two_channels["b"],
        )
    assert db.sqlstate(err.value) == "42501"  # new row violates row-level security policy


def test_update_and_delete_across_channels_touch_nothing(two_channels):
    with transaction(channel_id=two_channels["a"]) as tx:
        changed = tx.exec(
            "UPDATE memberships SET role = 'student' WHERE channel_id = :b", b=two_channels["b"]
        )
        deleted = tx.exec("DELETE FROM memberships WHERE channel_id = :b", b=two_channels["b"])
        renamed = tx.exec("UPDATE channels SET name = 'pwned' WHERE id = :b", b=two_channels["b"])
    assert (changed, deleted, renamed) == (0, 0, 0)
    with transaction(channel_id=two_channels["b"]) as tx:
        assert (
            tx.scalar("SELECT role FROM memberships WHERE user_id = :u", u=two_channels["b_owner"])
            == "owner"
        )
        assert tx.scalar("SELECT name FROM channels WHERE id = app_channel_id()") == "B"


def test_own_memberships_are_visible_across_channels_but_not_others(two_channels):
    with transaction(user_id=two_channels["a_owner"]) as tx:
        mine = tx.all("SELECT channel_id, user_id FROM memberships")
    assert [(str(r["channel_id"]), str(r["user_id"])) for r in mine] == [
        (two_channels["a"], two_channels["a_owner"])
    ]


def test_pooled_connection_carries_no_tenant_past_commit_or_error(two_channels):
    pool = db.pool()
    with transaction(channel_id=two_channels["a"], user_id=two_channels["a_owner"]):
        pass
    with pytest.raises(RuntimeError), transaction(channel_id=two_channels["b"]):
        raise RuntimeError("boom")
    conns = [pool.acquire() for _ in range(db.settings().db_pool_size)]
    try:
        for c in conns:
            assert c.run(
                "SELECT coalesce(current_setting('app.channel_id', true), ''),"
                " coalesce(current_setting('app.user_id', true), '')"
            ) == [["", ""]]
    finally:
        for c in conns:
            pool.release(c)
