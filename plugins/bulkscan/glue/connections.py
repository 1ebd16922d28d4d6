"""Connections from Airflow connection ids: MySQL through the MySQL provider's hook, Redis through
the Redis provider's connection.

Called inside tasks only: the hooks resolve the connection (env AIRFLOW_CONN_*, a secrets backend or
the metadata DB) when the task runs, never when the DAG file is parsed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import MySQLdb

from bulkscan.core.dbapi import ConnectFactory, Connection
from bulkscan.core.identifiers import validate_identifier
from bulkscan.errors import BulkscanError, BulkscanInputError

if TYPE_CHECKING:
    from bulkscan.redisnodes.connect import RedisSettings


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

    def connect() -> Connection:
        conn = cast(Connection, hook.get_conn())
        conn.autocommit(True)
        return conn

    return connect


# Connection extras that the Arrow readers' own connections cannot honour: they connect over TCP to host
# and port with the login, password and schema alone (PyMySQL for numeric columns, ConnectorX otherwise).
ARROW_REFUSED_EXTRAS = ("ssl", "ssl_mode", "unix_socket")


def check_arrow_connection(conn_id: str) -> None:
    """Refuse (BulkscanInputError) a connection whose extras ask for TLS or a socket, which the Arrow
    readers would not use; the table scan's plan calls this before it writes anything."""
    _arrow_connection(conn_id)


def connectorx_uri(conn_id: str, database: str | None = None) -> str:
    """The same MySQL connection as a ConnectorX URI (mysql://user:password@host:port/schema), for the
    Arrow batch readers; credentials are URL-quoted and never logged. A connection whose extras ask for
    TLS or a socket is refused (BulkscanInputError) rather than read without them."""
    from urllib.parse import quote

    c = _arrow_connection(conn_id)
    schema = database or c.schema or ""
    auth = quote(c.login or "root", safe="") + (":" + quote(c.password, safe="") if c.password else "")
    return f"mysql://{auth}@{c.host or '127.0.0.1'}:{int(c.port or 3306)}/{quote(schema, safe='')}"


def _arrow_connection(conn_id: str) -> Any:
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    c = MySqlHook(mysql_conn_id=conn_id).get_connection(conn_id)
    extra = c.extra_dejson
    refused = [k for k in ARROW_REFUSED_EXTRAS if extra.get(k) and str(extra.get(k)).upper() != "DISABLED"]
    if refused:
        raise BulkscanInputError(
            f"Airflow connection {conn_id!r} sets {', '.join(refused)} in its extras, which Arrow batches "
            "cannot honour: their readers open connections of their own with host, port, login and schema "
            "only, so TLS would silently not be used. Use a processor that reads rows on this connection "
            "(processor 'aggregate', or one without Arrow batches), or a connection without these extras."
        )
    return c


def describe(conn_id: str) -> str:
    """host:port of a connection id, for error messages (no credentials)."""
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    c = MySqlHook(mysql_conn_id=conn_id).get_connection(conn_id)
    return f"{c.host}:{c.port or 3306}"


def describe_or_unknown(conn_id: str) -> str:
    """`describe`, or '?' when even that fails (it only enriches an error message)."""
    try:
        return describe(conn_id)
    except Exception:  # noqa: BLE001 - only used to enrich an error message
        return "?"


def reachable(connect: ConnectFactory, conn_id: str) -> ConnectFactory:
    """`connect`, with an unreachable host turned into a clear error naming the connection id, so a
    task that opens it first (`with connection(reachable(...))`) fails before any work starts."""

    def connect_checked() -> Connection:
        try:
            return connect()
        except MySQLdb.OperationalError as exc:
            raise BulkscanError(f"cannot reach MySQL for connection {conn_id!r} ({describe(conn_id)}): {exc}") from exc

    return connect_checked


def redis_settings(conn_id: str) -> RedisSettings:
    """How to reach the Redis deployment of an Airflow connection: the redis provider's RedisHook reads
    the connection and builds its client (a RedisCluster with `{"cluster": true}`, which asks the
    cluster for its nodes); bulkscan takes that client's arguments and node list for its own per-node
    clients (SCAN and the page script run on each primary directly)."""
    # Imported here: redis-py costs a MySQL-only task or DAG parse a second or more to import.
    from airflow.providers.redis.hooks.redis import RedisHook

    from bulkscan.redisnodes.connect import RedisSettings

    try:
        client = RedisHook(redis_conn_id=conn_id).get_conn()
    except ValueError as exc:  # the hook's own checks (db in cluster mode, startup_nodes format)
        raise BulkscanInputError(f"Redis connection {conn_id!r}: {exc}") from exc
    try:
        return RedisSettings.from_client(client)
    finally:
        client.close()


__all__ = ["connect_factory", "describe", "describe_or_unknown", "reachable", "redis_settings"]
