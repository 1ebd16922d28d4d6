"""Connection factories from Airflow connection ids, via the MySQL provider's hook.

Called inside tasks only: the hook resolves the connection (env AIRFLOW_CONN_*, a secrets backend or
the metadata DB) when the task runs, never when the DAG file is parsed.
"""

from __future__ import annotations

from typing import Any

import MySQLdb

from bulkscan.core.identifiers import validate_identifier
from bulkscan.errors import BulkscanError, BulkscanInputError
from bulkscan.mysqldb.connect import ConnectFactory, close_quietly


def connect_factory(conn_id: str, database: str | None = None) -> ConnectFactory:
    """A factory of autocommit mysqlclient connections for `conn_id` (optionally another schema)."""
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    if not isinstance(conn_id, str) or not conn_id.strip():
        raise BulkscanInputError("a MySQL connection id is required")
    hook = MySqlHook(mysql_conn_id=conn_id)
    try:
        hook.connection = hook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException and friends
        raise BulkscanInputError(f"unknown Airflow connection id {conn_id!r}: {exc}") from exc
    if database:
        validate_identifier(database, "database")
        hook.schema = database

    def connect() -> Any:
        conn = hook.get_conn()
        conn.autocommit(True)  # type: ignore[operator]
        return conn

    return connect


def describe(conn_id: str) -> str:
    """host:port of a connection id, for error messages (no credentials)."""
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    c = MySqlHook(mysql_conn_id=conn_id).get_connection(conn_id)
    return f"{c.host}:{c.port or 3306}"


def check_reachable(connect: ConnectFactory, conn_id: str) -> Any:
    """Open one connection now, so an unreachable host is a clear error before any work starts."""
    try:
        return connect()
    except MySQLdb.OperationalError as exc:
        raise BulkscanError(f"cannot reach MySQL for connection {conn_id!r} ({describe(conn_id)}): {exc}") from exc


__all__ = ["check_reachable", "close_quietly", "connect_factory", "describe"]
