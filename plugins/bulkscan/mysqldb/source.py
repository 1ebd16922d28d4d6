"""Resolve what a scan reads against the server: every identifier is checked against information_schema
before any scan starts (unknown table or column, non-integer or unindexed key: a clear input error)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bulkscan.core.dbapi import Connection
from bulkscan.core.identifiers import validate_identifier
from bulkscan.core.sqlfiles import raw
from bulkscan.core.tablespec import INTEGER_TYPES, Filter, TableSpec, parse_filters
from bulkscan.errors import BulkscanInputError

__all__ = ["Filter", "TableSpec", "all_columns", "current_database", "parse_filters", "resolve_table"]


def current_database(conn: Connection) -> str | None:
    cur = conn.cursor()
    cur.execute(raw("common/current_database"))
    row = cur.fetchone()
    return row[0] if row else None


def resolve_table(
    conn: Connection,
    database: str | None,
    table: str,
    key_column: str,
    columns: Sequence[str] = (),
    filters: Iterable[object] | None = (),
) -> TableSpec:
    """Validate everything against information_schema; raise BulkscanInputError naming what is wrong."""
    validate_identifier(table, "table")
    validate_identifier(key_column, "key column")
    for c in columns:
        validate_identifier(c, "column")
    parsed = parse_filters(filters)
    db = database or current_database(conn)
    if not db:
        raise BulkscanInputError(f"no database given for table {table!r} and the connection has no default schema")
    validate_identifier(db, "database")
    cur = conn.cursor()
    cur.execute(raw("common/table_columns"), (db, table))
    found = {name: (dtype.lower(), bool(leads)) for name, dtype, leads in cur.fetchall()}
    if not found:
        raise BulkscanInputError(f"unknown table {db}.{table} (not in information_schema)")
    if key_column not in found:
        raise BulkscanInputError(f"unknown key column {key_column!r} in {db}.{table}")
    dtype, leads = found[key_column]
    if dtype not in INTEGER_TYPES:
        raise BulkscanInputError(f"key column {db}.{table}.{key_column} is {dtype}, an integer key is needed")
    if not leads:
        raise BulkscanInputError(
            f"key column {db}.{table}.{key_column} does not lead an index; chunking would scan the table"
        )
    wanted = [c for c in columns if c != key_column]
    for name in [*wanted, *(f.column for f in parsed)]:
        if name not in found:
            raise BulkscanInputError(f"unknown column {name!r} in {db}.{table}")
    return TableSpec(db, table, key_column, tuple(dict.fromkeys([key_column, *wanted])), parsed)


def all_columns(conn: Connection, spec: TableSpec) -> TableSpec:
    """The same spec reading every column of the table (key first)."""
    cur = conn.cursor()
    cur.execute(raw("common/table_columns"), (spec.database, spec.table))
    names = [r[0] for r in cur.fetchall()]
    return TableSpec(
        spec.database, spec.table, spec.key_column, tuple(dict.fromkeys([spec.key_column, *names])), spec.filters
    )
