"""Postgres access: a small per-process pool of pg8000 connections and a transaction helper
that sets the tenant (`app.channel_id`) and acting user (`app.user_id`) for row-level security.

Locally (and in tests) connections go to DATABASE_URL over TCP. In the cloud they go through
the Cloud SQL Python Connector with IAM database auth (imported only there).
"""

from __future__ import annotations

import contextlib
import os
import select
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
    try:
        sock = socket.create_connection((u.hostname or "127.0.0.1", u.port or 5432), timeout=30)
    except OSError as e:  # as pg8000 reports it when it opens the socket itself
        raise pg8000.native.InterfaceError("communication error") from e
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

    @property
    def _usock(self) -> socket.socket | None:
        return getattr(self._c, "_usock", None)

    def close(self) -> None:
        self._c.close()


def _alive(conn: Any) -> bool:
    """False when the server has ended an idle connection (a restart, a failover,
    `pg_terminate_backend`): it then sent its FATAL message and closed, so the socket is
    readable although no query is outstanding. One non-blocking poll, no round trip. An
    asynchronous notice also reads as dead; the pool then just opens a fresh connection."""
    sock = getattr(conn, "_usock", None)
    if sock is None:
        return True
    try:
        poller = select.poll()  # not select(): no FD_SETSIZE limit
        poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
        return not poller.poll(0)
    except (OSError, ValueError):  # closed socket (fileno -1)
        return False


class Pool:
    """LIFO pool sized to the instance's threads; broken connections are dropped, not reused,
    and an idle connection the server has ended is replaced at checkout."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._idle: list[pg8000.native.Connection] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)

    def acquire(self, *, fresh: bool = False) -> pg8000.native.Connection:
        """A live idle connection, else a new one; `fresh`: always a new one."""
        self._slots.acquire()
        while not fresh:
            with self._lock:
                if not self._idle:
                    break
                conn = self._idle.pop()
            if _alive(conn):
                return conn
            with contextlib.suppress(Exception):
                conn.close()
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
    # One round trip for BEGIN and the context. The simple-query protocol takes no bind
    # parameters, so the values are inlined, which is safe only because they are parsed as
    # UUIDs first.
    begin = (
        "START TRANSACTION; SELECT"
        f" set_config('app.channel_id', '{_uuid_literal(channel_id)}', true),"
        f" set_config('app.user_id', '{_uuid_literal(user_id)}', true)"
    )
    p = pool()
    conn = _begin(p, begin)
    broken = False
    try:
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


def _begin(p: Pool, begin: str) -> pg8000.native.Connection:
    """Check out a connection and open the transaction on it.

    A connection can die between the checkout's liveness poll and its first use, or without
    the server saying so (a failover answers the next packet with a reset). Nothing has run
    on it yet, so a lost connection is dropped and the transaction begun once more on a new
    one; a second failure propagates (the toolkit answers 503 for a lost database).
    """
    conn = p.acquire()
    try:
        conn.run(begin)
        return conn
    except BaseException as e:
        lost = isinstance(e, Exception) and connection_lost(e)
        # interrupted mid-protocol (not an Exception): the session's state is unknown
        p.release(conn, broken=lost or not isinstance(e, Exception) or _in_transaction(conn))
        if not lost:
            raise
    conn = p.acquire(fresh=True)
    try:
        conn.run(begin)
    except BaseException:
        p.release(conn, broken=True)
        raise
    return conn


def call(sql: str, **params: Any) -> list[Row]:
    """Run ONE parameterised statement in autocommit mode and answer its rows.

    Outside START TRANSACTION, Postgres runs the statement in its own implicit transaction:
    one round trip, no BEGIN/COMMIT. For a statement that sets its own transaction-local
    context (e.g. the record_heartbeats() SQL function, which calls set_config(..., true))
    and must be atomic on its own. Uses the pooled connection's prepared-statement cache.
    Not retried: the statement itself is the first use of the connection, and a connection
    lost while it ran may have committed it; the checkout's liveness poll catches the usual
    case (a connection the server ended while it was idle).
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

# The server ended the session: 57P01 admin_shutdown (pg_terminate_backend, a restart),
# 57P02 crash_shutdown, 57P03 cannot_connect_now (still starting up); class 08: connection.
_SESSION_ENDED = ("57P01", "57P02", "57P03")
_NETWORK_ERRORS = ("network error", "connection is closed", "communication error")


def connection_lost(err: BaseException | None) -> bool:
    """Whether `err`, or an error it was raised from, says the database connection is gone
    (as opposed to a statement that failed on a working connection)."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, pg8000.native.InterfaceError):
            if err.args and err.args[0] in _NETWORK_ERRORS:
                return True
        elif isinstance(err, pg8000.native.DatabaseError):
            state = sqlstate(err) or ""
            if state in _SESSION_ENDED or state.startswith("08"):
                return True
        elif isinstance(err, ConnectionError) and _raised_in_driver(err):
            return True  # pg8000's first read of a reply lets a reset through unwrapped
        err = err.__cause__ or err.__context__
    return False


def _raised_in_driver(err: BaseException) -> bool:
    tb = err.__traceback__
    while tb is not None:
        if f"{os.sep}pg8000{os.sep}" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False
