"""Postgres access: a small per-process pool of pg8000 connections and a transaction helper
that sets the tenant (`app.channel_id`) and acting user (`app.user_id`) for row-level security.

Locally (and in tests) connections go to DATABASE_URL over TCP. In the cloud they go through
the Cloud SQL Python Connector with IAM database auth (imported only there).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlparse

import pg8000.native

from shared.platform.config import settings

Row = dict[str, Any]


def connect(url: str | None = None) -> pg8000.native.Connection:
    """Open one connection; `url` overrides the settings (migrations use the owner URL)."""
    s = settings()
    if url is None and s.cloud_sql_instance:
        from shared.adapters import cloudsql  # cloud only

        dbapi = cloudsql.connect(instance=s.cloud_sql_instance, user=s.db_iam_user, db=s.db_name)
        _no_delay(getattr(dbapi, "_usock", None))  # the connector's TLS socket
        # The connector hands back a DB-API connection; reuse its socket for the native API.
        return _NativeFromDbapi(dbapi)
    u = urlparse(url or s.database_url)
    sock = socket.create_connection((u.hostname or "127.0.0.1", u.port or 5432), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)  # as pg8000 does for its own
    _no_delay(sock)
    return pg8000.native.Connection(
        user=unquote(u.username or ""),
        password=unquote(u.password or "") or None,
        database=(u.path or "/")[1:],
        application_name="creator-platform",
        sock=sock,
        timeout=30,
    )


def _no_delay(sock: socket.socket | None) -> None:
    """Send each message at once. pg8000 writes a message larger than its 8 KiB buffer in two
    segments; with Nagle's algorithm the second waits for the server's (delayed, ~40 ms) ACK
    of the first: a batch of heartbeats took 48 ms instead of 5."""
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _NativeFromDbapi:
    """Adapter exposing pg8000.native's run()/columns over a DB-API connection (cloud path)."""

    def __init__(self, dbapi: Any) -> None:
        self._c = dbapi
        self._c.autocommit = True
        self.columns: list[dict[str, str]] | None = None
        self.row_count = -1

    def run(self, sql: str, **params: Any) -> list[list[Any]] | None:
        cur = self._c.cursor()
        cur.paramstyle = "named"  # same `:name` placeholders as pg8000.native
        cur.execute(sql, params)
        self.row_count = cur.rowcount
        self.columns = [{"name": d[0]} for d in cur.description] if cur.description else None
        return [list(r) for r in cur.fetchall()] if cur.description else None

    def close(self) -> None:
        self._c.close()


class Pool:
    """LIFO pool sized to the instance's threads; broken connections are dropped, not reused."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._idle: list[pg8000.native.Connection] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)

    def acquire(self) -> pg8000.native.Connection:
        self._slots.acquire()
        with self._lock:
            if self._idle:
                return self._idle.pop()
        try:
            return connect()
        except BaseException:
            self._slots.release()
            raise

    def release(self, conn: pg8000.native.Connection, *, broken: bool = False) -> None:
        try:
            if broken:
                with contextlib.suppress(Exception):  # already broken; best effort
                    conn.close()
            else:
                with self._lock:
                    self._idle.append(conn)
        finally:
            self._slots.release()

    def close_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            with contextlib.suppress(Exception):
                c.close()


_pool: Pool | None = None
_pool_lock = threading.Lock()


def pool() -> Pool:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = Pool(settings().db_pool_size)
    return _pool


_STATEMENT_CACHE = 256  # prepared statements kept per pooled connection


class Tx:
    """One open transaction. Queries use pg8000 named parameters (`:name`).

    Parameterised statements are prepared once per pooled connection and reused: the hot
    paths (heartbeats, playback, /v1/me) run the same few statements thousands of times a
    second, and a prepared statement skips pg8000's SQL rewriting in Python and lets Postgres
    keep a generic plan.
    """

    def __init__(self, conn: pg8000.native.Connection) -> None:
        self.conn = conn

    def _run(self, sql: str, params: dict[str, Any]) -> tuple[list[list[Any]], Any]:
        prepare = getattr(self.conn, "prepare", None)
        if not params or prepare is None:  # the cloud DB-API adapter has no prepare()
            rows = self.conn.run(sql, **params) or []
            return rows, self.conn
        cache: OrderedDict[str, Any] | None = getattr(self.conn, "_statements", None)
        if cache is None:
            cache = self.conn._statements = OrderedDict()
        stmt = cache.get(sql)
        if stmt is None:
            stmt = cache[sql] = prepare(sql)
            if len(cache) > _STATEMENT_CACHE:
                cache.popitem(last=False)[1].close()
        else:
            cache.move_to_end(sql)
        return stmt.run(**params) or [], stmt

    def all(self, sql: str, **params: Any) -> list[Row]:
        rows, source = self._run(sql, params)
        cols = [c["name"] for c in (source.columns or [])]
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def one(self, sql: str, **params: Any) -> Row | None:
        rows = self.all(sql, **params)
        return rows[0] if rows else None

    def scalar(self, sql: str, **params: Any) -> Any:
        rows, _ = self._run(sql, params)
        return rows[0][0] if rows else None

    def exec(self, sql: str, **params: Any) -> int:
        """Run a statement; answer the number of rows it touched."""
        _, source = self._run(sql, params)
        context = getattr(source, "_context", None)  # pg8000 keeps the count on the context
        return context.row_count if context is not None else source.row_count

    def set_channel(self, channel_id: str | None) -> None:
        """Switch the tenant inside the transaction (e.g. after resolving a slug)."""
        self.conn.run(f"SELECT set_config('app.channel_id', '{_uuid_literal(channel_id)}', true)")


def _uuid_literal(value: Any) -> str:
    """A UUID in canonical form (safe to inline in SQL), '' for none; else NotFound."""
    if value is None or value == "":
        return ""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as e:
        from shared.platform.errors import NotFound

        raise NotFound("No such channel.") from e


@contextmanager
def transaction(*, channel_id: str | None = None, user_id: str | None = None) -> Iterator[Tx]:
    """Run a block in one transaction scoped to `channel_id` for RLS.

    The settings are transaction-local (`set_config(..., true)`), so a pooled connection never
    carries a tenant past COMMIT or ROLLBACK. Commits when the block returns, rolls back when
    it raises.
    """
    p = pool()
    conn = p.acquire()
    broken = False
    try:
        # One round trip for BEGIN and the context. The simple-query protocol takes no bind
        # parameters, so the values are inlined, which is safe only because they are parsed
        # as UUIDs first.
        conn.run(
            "START TRANSACTION; SELECT"
            f" set_config('app.channel_id', '{_uuid_literal(channel_id)}', true),"
            f" set_config('app.user_id', '{_uuid_literal(user_id)}', true)"
        )
        try:
            yield Tx(conn)
        except BaseException:
            conn.run("ROLLBACK")
            raise
        conn.run("COMMIT")
    except (pg8000.native.InterfaceError, OSError):
        broken = True
        raise
    except pg8000.native.DatabaseError:
        # A failed COMMIT/ROLLBACK leaves the session in an unknown state: drop it.
        broken = _in_transaction(conn)
        raise
    finally:
        p.release(conn, broken=broken)


def call(sql: str, **params: Any) -> list[Row]:
    """Run ONE parameterised statement in autocommit mode and answer its rows.

    Outside START TRANSACTION, Postgres runs the statement in its own implicit transaction:
    one round trip, no BEGIN/COMMIT. For a statement that sets its own transaction-local
    context (e.g. the record_heartbeats() SQL function, which calls set_config(..., true))
    and must be atomic on its own. Uses the pooled connection's prepared-statement cache.
    """
    p = pool()
    conn = p.acquire()
    broken = False
    try:
        return Tx(conn).all(sql, **params)
    except (pg8000.native.InterfaceError, OSError):
        broken = True
        raise
    except pg8000.native.DatabaseError:
        broken = _in_transaction(conn)  # the implicit transaction is gone; the session is not
        raise
    finally:
        p.release(conn, broken=broken)


def _in_transaction(conn: pg8000.native.Connection) -> bool:
    try:
        conn.run("ROLLBACK")
        return False
    except Exception:
        return True


def sqlstate(err: BaseException) -> str | None:
    """The SQLSTATE of a pg8000 error (e.g. '23505' unique violation), if it has one."""
    args = getattr(err, "args", ())
    if args and isinstance(args[0], dict):
        return args[0].get("C")
    return None


UNIQUE_VIOLATION = "23505"
