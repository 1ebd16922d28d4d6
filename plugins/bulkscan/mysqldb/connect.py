"""MySQL connections as factories, so a scan can reconnect and resume on its own.

The Airflow glue builds factories from connection ids (bulkscan.glue.mysql_conn); benchmarks and
tests build them from plain parameters. Nothing here knows about Airflow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import MySQLdb

ConnectFactory = Callable[[], Any]

# Client error codes that mean "the connection is gone, a new one may work".
DISCONNECT_CODES = frozenset({2006, 2013, 2055, 2003, 2002, 1053, 1927, 4031})


def direct(
    host: str,
    port: int = 3306,
    user: str = "root",
    password: str = "",
    database: str | None = None,
    **extra: Any,
) -> ConnectFactory:
    """A factory of mysqlclient connections (autocommit on, utf8mb4)."""

    def connect() -> Any:
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
        return MySQLdb.connect(**kw)

    return connect


def is_disconnect(exc: BaseException) -> bool:
    """True for 'server has gone away', 'lost connection' and 'can't connect' errors."""
    if isinstance(exc, MySQLdb.InterfaceError):
        return True
    if isinstance(exc, MySQLdb.OperationalError) and exc.args:
        return exc.args[0] in DISCONNECT_CODES
    return False


def close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - a dead connection may fail to close; nothing to do
        pass
