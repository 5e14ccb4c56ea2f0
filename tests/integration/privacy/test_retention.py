"""The retention cron deletes exactly what is due, in batches, and says so in the audit log;
a second run finds nothing more of it."""

from __future__ import annotations

import json

import pytest

from shared import privacy
from shared.platform.ids import uuid7
from shared.privacy import rules
from tests.factories import new_channel, new_user
from tests.helpers import unique

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture
def admin(admin_db):
    conn = admin_db()
    yield conn
    conn.close()


def exists(admin, sql: str, **params) -> bool:
    return admin.run(f"SELECT EXISTS ({sql})", **params)[0][0]


def test_only_what_is_due_goes(admin):
    tag = unique("ret")
    admin.run(
        "INSERT INTO idempotency_keys (user_key, idem_key, route, request_hash, created_at)"
        " VALUES (:u, 'old', 'r', '\\x00', now() - interval '25 hours'),"
        "        (:u, 'new', 'r', '\\x00', now() - interval '23 hours')",
        u=tag,
    )
    admin.run(
        "INSERT INTO rate_limit_counters (bucket, window_start, hits)"
        " VALUES (:b, now() - interval '2 days', 1), (:b, now() - interval '1 hour', 1)",
        b=tag,
    )
    user = new_user("Tokens")
    old_token, live_token = uuid7(), uuid7()
    admin.run(
        "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at) VALUES"
        " (CAST(:a AS uuid), :u, CAST(:a AS uuid), CAST(:ha AS bytea),"
        "  now() - interval '2 days'),"
        " (CAST(:b AS uuid), :u, CAST(:b AS uuid), CAST(:hb AS bytea),"
        "  now() + interval '2 days')",
        a=old_token,
        b=live_token,
        u=user,
        ha=old_token,
        hb=live_token,
    )
    cid = new_channel(user)
    space = uuid7()
    admin.run(
        "INSERT INTO spaces (id, channel_id, name, audience_kind) VALUES (:i, :c, 'S', 'members')",
        i=space,
        c=cid,
    )
    posts = {}
    for key, status, age in (
        ("due", "deleted", "31 days"),
        ("recent", "deleted", "29 days"),
        ("visible", "visible", "90 days"),
    ):
        posts[key] = uuid7()
        admin.run(
            "INSERT INTO posts (id, channel_id, space_id, author_id, body, body_html, status,"
            " deleted_at, created_at) VALUES (:i, :c, :s, :u, 'b', '<p>b</p>', :st,"
            " CASE WHEN :st = 'deleted' THEN now() - CAST(:age AS interval) END,"
            " now() - CAST(:age AS interval))",
            i=posts[key],
            c=cid,
            s=space,
            u=user,
            st=status,
            age=age,
        )
    admin.run(
        "INSERT INTO comments (id, channel_id, post_id, author_id, body, body_html)"
        " VALUES (:i, :c, :p, :u, 'c', '<p>c</p>')",
        i=uuid7(),
        c=cid,
        p=posts["due"],
        u=user,
    )

    counts = privacy.run_retention()

    assert counts["idempotency_keys"] >= 1 and counts["rate_limit_counters"] >= 1
    assert counts["refresh_tokens"] >= 1 and counts["deleted_posts"] >= 1
    keys = admin.run("SELECT idem_key FROM idempotency_keys WHERE user_key = :u", u=tag)
    assert keys == [["new"]]
    assert admin.run("SELECT count(*) FROM rate_limit_counters WHERE bucket = :b", b=tag) == [[1]]
    assert not exists(admin, "SELECT 1 FROM refresh_tokens WHERE id = :i", i=old_token)
    assert exists(admin, "SELECT 1 FROM refresh_tokens WHERE id = :i", i=live_token)
    assert not exists(admin, "SELECT 1 FROM posts WHERE id = :i", i=posts["due"])
    assert not exists(admin, "SELECT 1 FROM comments WHERE post_id = :i", i=posts["due"])
    assert exists(admin, "SELECT 1 FROM posts WHERE id = :i", i=posts["recent"])
    assert exists(admin, "SELECT 1 FROM posts WHERE id = :i", i=posts["visible"])
    # audited, counts only
    details = admin.run(
        "SELECT details FROM audit_log WHERE action = 'retention.run'"
        " AND channel_id IS NULL ORDER BY seq DESC LIMIT 1"
    )[0][0]
    details = json.loads(details) if isinstance(details, str) else details
    assert details["deleted"]["deleted_posts"] >= 1

    again = privacy.run_retention()  # idempotent: ours are gone already
    assert exists(admin, "SELECT 1 FROM posts WHERE id = :i", i=posts["recent"])
    assert keys == admin.run("SELECT idem_key FROM idempotency_keys WHERE user_key = :u", u=tag)
    assert set(again) == set(counts)


def test_a_run_deletes_in_batches_and_stops_at_its_cap(admin, monkeypatch):
    tag = unique("batch")
    monkeypatch.setattr(rules, "RETENTION_BATCH", 3)
    monkeypatch.setattr(rules, "RETENTION_MAX_BATCHES", 2)
    admin.run(
        "INSERT INTO rate_limit_counters (bucket, window_start, hits)"
        " SELECT :b || g, now() - interval '3 days', 1 FROM generate_series(1, 20) g",
        b=tag,
    )
    privacy.run_retention()
    left = admin.run("SELECT count(*) FROM rate_limit_counters WHERE bucket LIKE :b || '%'", b=tag)[
        0
    ][0]
    assert left < 20  # some went, at most 6 rows a run across all due rows
    for _ in range(10):  # later runs finish the job
        privacy.run_retention()
    assert admin.run(
        "SELECT count(*) FROM rate_limit_counters WHERE bucket LIKE :b || '%'", b=tag
    ) == [[0]]
