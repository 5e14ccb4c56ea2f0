"""Apply shared/migrations/NNNN_*.sql in order, each once, as the owner role.

Safe under concurrent starts: a session-level advisory lock serializes runners, and each file
runs in its own transaction with its checksum recorded. An applied file that changed is an
error: migrations are forward-only.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from pathlib import Path

from shared.platform import db
from shared.platform.config import settings

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
LOCK_ID = 0x6D6967726174  # "migrat"
log = logging.getLogger("migrate")


def pending(applied: dict[str, str]) -> list[Path]:
    files = sorted(MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    for f in files:
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        if f.name in applied and applied[f.name] != digest:
            raise RuntimeError(f"migration {f.name} changed after it was applied")
    return [f for f in files if f.name not in applied]


def migrate(url: str | None = None) -> list[str]:
    s = settings()
    # In the cloud the migrate job logs in through the Cloud SQL connector as its IAM user.
    conn = db.connect(url or (None if s.cloud_sql_instance else s.migration_database_url))
    try:
        conn.run("SELECT pg_advisory_lock(:k)", k=LOCK_ID)
        conn.run(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " filename text PRIMARY KEY, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = dict(conn.run("SELECT filename, checksum FROM schema_migrations") or [])
        done = []
        for f in pending(applied):
            sql = f.read_text()
            conn.run("START TRANSACTION")
            try:
                conn.run(sql)  # simple-query protocol: the whole file, many statements
                conn.run(
                    "INSERT INTO schema_migrations (filename, checksum) VALUES (:f, :c)",
                    f=f.name,
                    c=hashlib.sha256(f.read_bytes()).hexdigest(),
                )
                conn.run("COMMIT")
            except Exception:
                conn.run("ROLLBACK")
                raise
            log.info("applied %s", f.name)
            done.append(f.name)
        return done
    finally:
        try:
            conn.run("SELECT pg_advisory_unlock(:k)", k=LOCK_ID)
        finally:
            conn.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    done = migrate(sys.argv[1] if len(sys.argv) > 1 else None)
    print(f"migrations applied: {len(done)}" + (f" ({', '.join(done)})" if done else ""))


if __name__ == "__main__":
    main()
