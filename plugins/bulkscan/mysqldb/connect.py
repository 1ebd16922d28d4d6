"""MySQL connections as factories, and the one way bulkscan opens, uses and closes them.

The Airflow glue builds factories from connection ids (bulkscan.glue.connections); benchmarks and
tests build them from plain parameters (`direct`). Every caller then uses the same two context
managers, in the style of common.sql's `closing(...)`:

    with connection(connect) as conn:             # opened, always closed (even if it died)
        ...
    with transaction(connect, "READ COMMITTED") as cur:   # committed, or rolled back on error
        ...

and `run_transaction(connect, work, retries=...)` where a deadlock should re-run the whole unit of
work. Nothing here knows about Airflow.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar, get_args

import MySQLdb

from bulkscan.core.dbapi import ConnectFactory, Connection, Cursor
from bulkscan.core.sqlfiles import Fragment, render

T = TypeVar("T")
Isolation = Literal["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"]

# Client error codes that mean "the connection is gone, a new one may work".
DISCONNECT_CODES = frozenset({2006, 2013, 2055, 2003, 2002, 1053, 1927, 4031})
RETRYABLE_TX = frozenset({1213, 1205})  # deadlock, lock wait timeout


def direct(
    host: str,
    port: int = 3306,
    user: str = "root",
    password: str = "",
    database: str | None = None,
    **extra: Any,
) -> ConnectFactory:
    """A factory of mysqlclient connections (autocommit on, utf8mb4)."""

    def connect() -> Connection:
        kw: dict[str, Any] = {
            "host": host,
            "port": int(port),
            "user": user,
            "password": password,
            "charset": "utf8mb4",
            "autocommit": True,
            "connect_timeout": 10,
        }
        if database:
            kw["database"] = database
        kw.update(extra)
        conn: Connection = MySQLdb.connect(**kw)
        return conn

    return connect


def is_disconnect(exc: BaseException) -> bool:
    """True for 'server has gone away', 'lost connection' and 'can't connect' errors."""
    if isinstance(exc, MySQLdb.InterfaceError):
        return True
    if isinstance(exc, MySQLdb.OperationalError) and exc.args:
        return exc.args[0] in DISCONNECT_CODES
    return False


def close_quietly(conn: Connection | None) -> None:
    """Close a connection that may already be dead (closing a dead one fails; nothing to do then)."""
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()


@contextmanager
def connection(connect: ConnectFactory) -> Iterator[Connection]:
    """An autocommit connection from `connect`, closed when the block ends, however it ends."""
    conn = connect()
    try:
        yield conn
    finally:
        close_quietly(conn)


@contextmanager
def cursor(connect: ConnectFactory) -> Iterator[Cursor]:
    """A cursor on a connection of its own (autocommit), for one-off statements."""
    with connection(connect) as conn:
        yield conn.cursor()


@contextmanager
def transaction(connect: ConnectFactory, isolation: Isolation | None = None) -> Iterator[Cursor]:
    """One transaction on a connection of its own: committed when the block ends, rolled back on error."""
    with connection(connect) as conn, begin(conn, isolation) as cur:
        yield cur


@contextmanager
def begin(conn: Connection, isolation: Isolation | None = None) -> Iterator[Cursor]:
    """One transaction on an open connection (which may already hold session temporary tables)."""
    cur = conn.cursor()
    if isolation:
        if isolation not in get_args(Isolation):
            raise ValueError(f"isolation level {isolation!r} is not one of {get_args(Isolation)}")
        cur.execute(render("common/set_isolation", isolation=Fragment(isolation)))
    conn.autocommit(False)
    try:
        yield cur
        conn.commit()
    except BaseException:
        with contextlib.suppress(Exception):
            conn.rollback()
        raise
    finally:
        with contextlib.suppress(Exception):
            conn.autocommit(True)


def run_transaction(
    connect: ConnectFactory,
    work: Callable[[Cursor], T],
    isolation: Isolation | None = "READ COMMITTED",
    retries: int = 5,
) -> T:
    """`work(cursor)` in one transaction, re-run whole on deadlock or lock wait timeout (bounded).

    READ COMMITTED takes no gap locks, so writers replacing their own rows side by side rarely block
    each other; a deadlock that still happens is retried (the work must be a whole replace).
    """
    for attempt in range(1, retries + 1):
        try:
            with transaction(connect, isolation) as cur:
                return work(cur)
        except MySQLdb.OperationalError as exc:
            if exc.args and exc.args[0] in RETRYABLE_TX and attempt < retries:
                time.sleep(0.05 * attempt)
                continue
            raise
    raise AssertionError("unreachable")


def scalar(cur: Cursor, sql: str, params: tuple[Any, ...] | dict[str, Any] | None = None) -> Any:
    """The first column of the first row of `sql` (None when there is no row)."""
    cur.execute(sql, params)
    row = cur.fetchone()
    return None if row is None else row[0]
