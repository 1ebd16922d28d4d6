"""What a scan reads: a table, its integer key, the columns and an optional filter (pure: no I/O).

Build a `TableSpec` with bulkscan.mysqldb.source.resolve_table, which checks it against the server.

Every identifier is checked against information_schema before any scan starts, and filter values are
always bound parameters, so neither a table name nor a filter can carry SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bulkscan.core.identifiers import quote_identifier, quote_qualified, validate_identifier
from bulkscan.core.sqlfiles import Fragment
from bulkscan.errors import BulkscanInputError

INTEGER_TYPES = frozenset({"tinyint", "smallint", "mediumint", "int", "integer", "bigint"})
STRING_TYPES = frozenset({"char", "varchar"})  # compared by the server, in the column's collation
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "is null", "is not null")
# The largest magnitude a value of each integer type can have (unsigned: twice the signed one). BIGINT
# is left out: its sums are never exact in a double (2^63 is already past 2^53).
INTEGER_MAGNITUDE = {"tinyint": 1 << 7, "smallint": 1 << 15, "mediumint": 1 << 23, "int": 1 << 31, "integer": 1 << 31}
DOUBLE_EXACT = 1 << 53  # every integer of at most this magnitude is a double, exactly


def double_exact_rows(column_type: str | None) -> int:
    """How many values of a column of this type (information_schema's COLUMN_TYPE, 'int(11) unsigned')
    can be summed in a double with every partial sum exact; 0 when none can (not an integer of at most
    32 bits).

    Each partial sum of n such values is an integer of magnitude at most n x the type's largest, and a
    double adds two integers exactly while the result stays within 2^53. So SUM(col + 0E0) over at most
    that many rows equals SUM(col), the server's exact DECIMAL sum, at less cost.
    """
    if not column_type:
        return 0
    words = column_type.lower().replace("(", " ").split()
    magnitude = INTEGER_MAGNITUDE.get(words[0], 0) if words else 0
    if "unsigned" in words:
        magnitude *= 2
    return DOUBLE_EXACT // magnitude if magnitude else 0


@dataclass(frozen=True)
class Filter:
    """`column op value`; the value is always bound. `in` takes a non-empty list."""

    column: str
    op: str
    value: Any = None

    @classmethod
    def parse(cls, item: object) -> Filter:
        """From a [column, op, value] list (the Params form) or a {column, op, value} dict."""
        if isinstance(item, dict):
            item = [item.get("column"), item.get("op"), item.get("value")]
        if not isinstance(item, list | tuple) or len(item) not in (2, 3):
            raise BulkscanInputError(f"a filter is [column, op, value], got {item!r}")
        column, op, *rest = item
        op_norm = str(op).strip().lower()
        if op_norm not in OPERATORS:
            raise BulkscanInputError(f"filter operator {op!r} is not one of {', '.join(OPERATORS)}")
        value = rest[0] if rest else None
        if op_norm == "in" and (not isinstance(value, list | tuple) or not value):
            raise BulkscanInputError(f"filter 'in' on {column!r} needs a non-empty list, got {value!r}")
        if op_norm not in ("is null", "is not null", "in") and (value is None or isinstance(value, list | dict)):
            raise BulkscanInputError(f"filter {column!r} {op_norm} needs a single value, got {value!r}")
        return cls(validate_identifier(column, "filter column"), op_norm, value)

    def sql(self) -> tuple[str, tuple[Any, ...]]:
        col = quote_identifier(self.column)
        if self.op in ("is null", "is not null"):
            return f"{col} {self.op.upper()}", ()
        if self.op == "in":
            return f"{col} IN ({', '.join(['%s'] * len(self.value))})", tuple(self.value)
        return f"{col} {self.op} %s", (self.value,)


def parse_filters(items: Iterable[object] | None) -> tuple[Filter, ...]:
    return tuple(f if isinstance(f, Filter) else Filter.parse(f) for f in (items or ()))


@dataclass(frozen=True)
class TableSpec:
    """A validated table to scan. Build it with `resolve_table`, not by hand.

    `key_column` is the integer key of an ID-range scan; a composite or string key sets `key_columns`
    (its unique index's columns, in order; `key_column` is then the first of them).
    """

    database: str
    table: str
    key_column: str
    columns: tuple[str, ...]
    filters: tuple[Filter, ...] = field(default=())
    key_columns: tuple[str, ...] = field(default=())
    column_types: tuple[tuple[str, str], ...] = field(default=(), compare=False)  # (column, COLUMN_TYPE)

    @property
    def keys(self) -> tuple[str, ...]:
        return self.key_columns or (self.key_column,)

    def double_exact_rows(self, column: str) -> int:
        """`double_exact_rows` of one column's type; 0 when the spec was built without its types."""
        return double_exact_rows(dict(self.column_types).get(column))

    def value_sql(self, column: str, in_double: bool = False) -> Fragment:
        """The summed value of a pushed-down aggregate: the column, or `col + 0E0` to sum it as a DOUBLE
        where `double_exact_rows` allows (0E0 works on any MySQL or MariaDB; CAST AS DOUBLE needs 8.0.17)."""
        col = quote_identifier(column)
        return Fragment(f"{col} + 0E0" if in_double else col)

    @property
    def tuple_key(self) -> bool:
        """True for a composite or string key: chunks are `KeyChunk`s, not integer ranges."""
        return bool(self.key_columns)

    @property
    def name(self) -> str:
        return f"{self.database}.{self.table}"

    def table_sql(self) -> Fragment:
        return Fragment(quote_qualified(self.database, self.table))

    def key_sql(self) -> Fragment:
        return Fragment(quote_identifier(self.key_column))

    def column_sql(self, columns: Sequence[str]) -> Fragment:
        return Fragment(", ".join(quote_identifier(c) for c in columns))

    def where(self) -> tuple[Fragment, tuple[Any, ...]]:
        """The filter as SQL with %s placeholders, and its bound values ('1=1' when unfiltered)."""
        if not self.filters:
            return Fragment("1=1"), ()
        parts: list[str] = []
        params: list[Any] = []
        for f in self.filters:
            sql, values = f.sql()
            parts.append(sql)
            params.extend(values)
        return Fragment(" AND ".join(parts)), tuple(params)

    def parts(self, **extra: Fragment) -> dict[str, Fragment]:
        where, _ = self.where()
        return {"table": self.table_sql(), "key": self.key_sql(), "where": where, **extra}
