"""The audit log is append-only and hash-chained; a verifier names the first broken row."""

import threading

import pytest
from pg8000.native import DatabaseError

from shared.platform import audit, db
from shared.platform.db import transaction
from tests.factories import new_channel, new_user

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture
def channel():
    user = new_user("A")
    return new_channel(user), user


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_log SET action = 'nothing'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ],
)
def test_app_role_cannot_rewrite_history(channel, sql):
    with pytest.raises(DatabaseError) as err, transaction(channel_id=channel[0]) as tx:
        tx.exec(sql)
    assert db.sqlstate(err.value) == "42501"


def test_the_table_owner_sees_nothing_and_a_superuser_meets_the_trigger(channel, admin_db):
    owner = admin_db(role="owner")  # FORCE ROW LEVEL SECURITY: no policy for the owner
    owner.run("UPDATE audit_log SET action = 'x' WHERE channel_id = :c", c=channel[0])
    assert owner.row_count == 0
    owner.close()
    root = admin_db(role="superuser")  # bypasses RLS, but not the append-only trigger
    with pytest.raises(DatabaseError) as err:
        root.run("UPDATE audit_log SET action = 'x' WHERE channel_id = :c", c=channel[0])
    root.close()
    assert "append-only" in str(err.value)


def test_chain_is_intact_under_concurrent_appends(channel):
    channel_id, user = channel

    def append(i: int) -> None:
        with transaction(channel_id=channel_id, user_id=user) as tx:
            audit.record(tx, action=f"test.{i}", channel_id=channel_id, actor_user_id=user)

    threads = [threading.Thread(target=append, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with transaction(channel_id=channel_id) as tx:
        seqs = [r["seq"] for r in tx.all("SELECT seq FROM audit_log ORDER BY seq")]
        assert seqs == list(range(1, 15))  # 2 from channel creation + 12
        assert audit.verify_chain(tx, channel_id) is None


def test_tampering_is_detected_at_the_first_broken_row(channel, admin_db):
    channel_id, user = channel
    with transaction(channel_id=channel_id, user_id=user) as tx:
        for i in range(3):
            audit.record(tx, action=f"t.{i}", channel_id=channel_id, actor_user_id=user)
    conn = admin_db(role="superuser")
    conn.run("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
    try:
        conn.run(
            "UPDATE audit_log SET details = '{\"forged\": true}' WHERE channel_id = :c AND seq = 3",
            c=channel_id,
        )
    finally:
        conn.run("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update")
        conn.close()
    with transaction(channel_id=channel_id) as tx:
        assert audit.verify_chain(tx, channel_id) == 3


def test_auth_events_chain_on_the_platform_chain_and_are_not_readable(channel):
    with transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM audit_log WHERE channel_id IS NULL") == 0
