"""Row locks on parent rows never deadlock with the audit log.

An audit row is appended under a per-channel advisory lock (audit_chain()), and its foreign key
to `channels` then takes FOR KEY SHARE on the channel row. A transaction that had locked that
row FOR UPDATE (publishing a course, a Stripe account or plan event) and then audits waits for
the advisory lock: a deadlock, found by schemathesis as a 500 on POST {c}/plan beside a
concurrent course publish. Parent rows are therefore locked FOR NO KEY UPDATE, which still
serializes the lockers but lets foreign-key checks through.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from shared.platform import audit, db
from shared.platform.db import transaction
from tests.factories import new_channel, new_user

pytestmark = pytest.mark.usefixtures("stack")
SHARED = Path(__file__).resolve().parents[3] / "shared"


def test_parent_rows_are_never_locked_for_update():
    """channels, courses and batches are referenced by foreign keys everywhere: every module
    under shared/, whichever package it lives in."""
    # within one statement: across adjacent string literals, never past a closing quote
    statement = r'FROM (channels|courses|batches)\b(?:[^"]|"\s*f?")*?FOR (?:NO KEY )?UPDATE'
    files = sorted(SHARED.rglob("*.py"))
    found, locks = [], 0
    for path in files:
        for m in re.finditer(statement, path.read_text(encoding="utf-8")):
            locks += 1
            if "NO KEY" not in m.group(0):
                found.append(f"{path.relative_to(SHARED)}: {m.group(0)[:80]}")
    assert found == []
    # The scan reaches into the packages, where the parent-row locks are.
    assert SHARED / "catalog" / "service.py" in files
    assert locks > 0, "no parent-row lock found at all: the pattern no longer matches the code"


def test_an_audited_write_passes_a_channel_row_locked_by_another_transaction():
    channel, user = new_channel(new_user()), new_user()
    locker = db.connect()
    try:
        locker.run("START TRANSACTION")
        locker.run("SELECT set_config('app.channel_id', :c, true)", c=channel)
        locker.run("SELECT 1 FROM channels WHERE id = app_channel_id() FOR NO KEY UPDATE")
        done = threading.Event()

        def audited_write() -> None:
            with transaction(channel_id=channel, user_id=user) as tx:
                audit.record(tx, action="test.write", channel_id=channel, actor_user_id=user)
            done.set()

        other = threading.Thread(target=audited_write)
        other.start()
        # Its foreign-key check is not blocked by the lock (FOR UPDATE would block it here,
        # and the locker's own audit row below would then deadlock with it).
        assert done.wait(5)
        locker.run(
            "INSERT INTO audit_log (channel_id, seq, actor_user_id, action)"
            " VALUES (app_channel_id(), 0, :u, 'test.locker')",
            u=user,
        )
        locker.run("COMMIT")
        other.join(5)
    finally:
        locker.close()
