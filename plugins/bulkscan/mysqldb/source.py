"""Resolve what a scan reads against the server: every identifier is checked against information_schema
before any scan starts (unknown table or column, a key that cannot be chunked: a clear input error).

A single integer column that leads an index is an ID-range key. Anything else (two or more columns,
or a string) must be exactly the columns of a unique NOT NULL index (the primary key or a UNIQUE
index), so that keyset batches in that index's order see every row once; an empty key column means
the primary key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from bulkscan.core.dbapi import Connection
from bulkscan.core.identifiers import validate_identifier
from bulkscan.core.keys import parse_key_columns
from bulkscan.core.sqlfiles import raw
from bulkscan.core.tablespec import INTEGER_TYPES, STRING_TYPES, Filter, TableSpec, parse_filters
from bulkscan.errors import BulkscanInputError

Unique = dict[str, tuple[tuple[str, ...], bool]]  # unique index -> (its columns in order, any nullable)

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
    key_column: str | Sequence[str],
    columns: Sequence[str] = (),
    filters: Iterable[object] | None = (),
) -> TableSpec:
    """Validate everything against information_schema; raise BulkscanInputError naming what is wrong.

    `key_column` is one column, several ('shop_id, id' or a sequence), or empty for the primary key.
    """
    validate_identifier(table, "table")
    keys = parse_key_columns(key_column)
    for c in columns:
        validate_identifier(c, "column")
    parsed = parse_filters(filters)
    db = database or current_database(conn)
    if not db:
        raise BulkscanInputError(f"no database given for table {table!r} and the connection has no default schema")
    validate_identifier(db, "database")
    cur = conn.cursor()
    cur.execute(raw("common/table_columns"), (db, table))
    listed = cur.fetchall()
    found = {name: (dtype.lower(), bool(leads)) for name, dtype, leads, _ in listed}
    if not found:
        raise BulkscanInputError(f"unknown table {db}.{table} (not in information_schema)")
    keys, key_columns = _key(f"{db}.{table}", keys, found, lambda: _unique_keys(conn, db, table))
    wanted = [c for c in columns if c not in keys]
    for name in [*wanted, *(f.column for f in parsed)]:
        if name not in found:
            raise BulkscanInputError(f"unknown column {name!r} in {db}.{table}")
    read = tuple(dict.fromkeys([*keys, *wanted]))
    types = tuple((name, str(ctype)) for name, _, _, ctype in listed if name in read)
    return TableSpec(db, table, keys[0], read, parsed, key_columns, types)


def _key(
    where: str,
    keys: tuple[str, ...],
    found: dict[str, tuple[str, bool]],
    unique_of: Callable[[], Unique],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the key's columns, TableSpec.key_columns: empty for an integer ID-range key).

    The unique indexes are read only when needed (an empty key, or a composite or string one): an
    integer key, checked by every scan task, costs no second information_schema query.
    """
    if not keys:
        unique = unique_of()
        if "PRIMARY" not in unique:
            raise BulkscanInputError(f"table {where} has no primary key: name its key column(s)")
        keys = unique["PRIMARY"][0]
    for k in keys:
        if k not in found:
            raise BulkscanInputError(f"unknown key column {k!r} in {where}")
    if len(keys) == 1 and found[keys[0]][0] in INTEGER_TYPES:
        if not found[keys[0]][1]:
            raise BulkscanInputError(
                f"key column {where}.{keys[0]} does not lead an index; chunking would scan the table"
            )
        return keys, ()
    _check_tuple_key(where, keys, found, unique_of())
    return keys, keys


def _unique_keys(conn: Connection, db: str, table: str) -> Unique:
    """Unique index name -> (its columns in order, whether any of them is nullable)."""
    cur = conn.cursor()
    cur.execute(raw("common/table_unique_keys"), (db, table))
    out: dict[str, tuple[tuple[str, ...], bool]] = {}
    for index, column, nullable in cur.fetchall():
        cols, any_null = out.get(index, ((), False))
        out[index] = ((*cols, column), any_null or nullable == "YES")
    return out


def _check_tuple_key(
    where: str,
    keys: tuple[str, ...],
    found: dict[str, tuple[str, bool]],
    unique: Unique,
) -> None:
    """A composite or string key: integer or CHAR/VARCHAR columns forming exactly one unique NOT NULL index."""
    for k in keys:
        dtype = found[k][0]
        if dtype not in INTEGER_TYPES | STRING_TYPES:
            raise BulkscanInputError(
                f"key column {where}.{k} is {dtype}: a composite or string key takes integer and CHAR/VARCHAR columns"
            )
    usable = {name: cols for name, (cols, nullable) in unique.items() if not nullable}
    if keys in usable.values():
        return
    have = "; ".join(f"{name} ({', '.join(cols)})" for name, cols in usable.items()) or "none"
    raise BulkscanInputError(
        f"table {where} cannot be chunked on ({', '.join(keys)}): a composite or string key must be exactly "
        f"the columns of a unique NOT NULL index, in its order. Unique NOT NULL indexes: {have}"
    )


def all_columns(conn: Connection, spec: TableSpec) -> TableSpec:
    """The same spec reading every column of the table (key first)."""
    cur = conn.cursor()
    cur.execute(raw("common/table_columns"), (spec.database, spec.table))
    listed = cur.fetchall()
    return TableSpec(
        spec.database,
        spec.table,
        spec.key_column,
        tuple(dict.fromkeys([*spec.keys, *(r[0] for r in listed)])),
        spec.filters,
        spec.key_columns,
        tuple((r[0], str(r[3])) for r in listed),
    )
