"""Chunks of a composite or string key: tuple ranges in the index's own order (pure: no I/O).

A table keyed by `(shop_id, id)` or by a string is chunked like an integer key, by walking its
unique index, but a boundary is a tuple of column values and every comparison is made by the
server: `(a, b) >= (x, y)` is written out as `a > x OR (a = x AND b >= y)`, the form MariaDB's
range optimizer turns into an index range (it does not for the row constructor `(a, b) >= (x, y)`,
which reads the whole index), and a string compares in the column's collation, so 'a' and 'A' of a
case-insensitive column are one value wherever they fall. Python never sorts or compares keys.

A `KeyChunk` holds the rows with `lo <= key < hi`; the plan's last chunk has no `hi` and ends at its
`last` key (inclusive), the last row that existed when the plan was made.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict

from bulkscan.core.chunks import fitted_rows_per_chunk
from bulkscan.core.identifiers import quote_identifier, validate_identifier
from bulkscan.core.sqlfiles import Fragment
from bulkscan.core.values import positive_int
from bulkscan.errors import BulkscanInputError

KeyValue = int | str
Key = tuple[KeyValue, ...]
Op = Literal[">", ">=", "<", "<="]
# (last key of this chunk, first key of the next one), or None when fewer than n + 1 rows remain
KeyWalk = Callable[[Key, int], "tuple[Key, Key] | None"]


def parse_key_columns(value: object) -> tuple[str, ...]:
    """'id' -> ('id',); 'shop_id, id' or ['shop_id', 'id'] -> ('shop_id', 'id'); '' -> () (the primary key)."""
    if value is None:
        return ()
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        if parts == [""]:
            return ()
    elif isinstance(value, list | tuple):
        parts = [str(p).strip() for p in value]
    else:
        raise BulkscanInputError(f"key column(s) must be a name or a comma-separated list, got {value!r}")
    names = tuple(validate_identifier(p, "key column") for p in parts)
    if len(set(names)) != len(names):
        raise BulkscanInputError(f"key columns repeat a column: {', '.join(names)}")
    return names


def compare_sql(columns: Sequence[str], op: Op) -> str:
    """`(c1, c2, ...) op (%s, ...)` expanded for the range optimizer; parameters by `compare_params`."""
    cols = [quote_identifier(c) for c in columns]
    strict = op[0]  # '>' or '<'
    sql = f"{cols[-1]} {op} %s"
    for col in reversed(cols[:-1]):
        sql = f"({col} {strict} %s OR ({col} = %s AND {sql}))"
    return sql


def compare_params(key: Key) -> tuple[KeyValue, ...]:
    """The parameters of `compare_sql` for `key`: each leading value twice, the last once."""
    out: list[KeyValue] = []
    for v in key[:-1]:
        out += [v, v]
    out.append(key[-1])
    return tuple(out)


def _label_name(column: str) -> str:
    return column[:-3] if column.endswith("_id") and column != "_id" else column


def _label_value(value: KeyValue) -> str:
    return f"{value:,}" if isinstance(value, int) else repr(value)


def key_label(columns: Sequence[str], key: Key) -> str:
    """'shop 17 id 5,001' for (shop_id, id) = (17, 5001); a string key shows its value quoted."""
    return " ".join(f"{_label_name(c)} {_label_value(v)}" for c, v in zip(columns, key, strict=True))


class KeyChunkPayload(TypedDict):
    """A tuple-key chunk as it travels through XCom (`KeyChunk.payload`)."""

    index: int
    columns: list[str]
    lo: list[KeyValue]
    hi: list[KeyValue] | None
    last: list[KeyValue]
    rows: int | None
    label: str
    run_key: NotRequired[str]
    time_limit_s: NotRequired[int]  # the chunk's own time limit (bulkscan.core.chunks.chunk_time_limit)


@dataclass(frozen=True)
class KeyChunk:
    """Rows with `lo <= key < hi` (or `lo <= key <= last` for the plan's final chunk)."""

    index: int
    columns: tuple[str, ...]
    lo: Key
    hi: Key | None
    last: Key  # the chunk's last key when planned: its label's right end
    rows: int | None = None

    @property
    def label(self) -> str:
        """What the Grid shows: 'shop 17 id 5,001 - shop 19 id 12' (first and last key when planned)."""
        return f"{key_label(self.columns, self.lo)} - {key_label(self.columns, self.last)}"

    def where(self) -> tuple[str, tuple[KeyValue, ...]]:
        """The chunk's key range as SQL (%s placeholders) and its parameters."""
        upper, upper_params = self.upper()
        return f"{compare_sql(self.columns, '>=')} AND {upper}", (*compare_params(self.lo), *upper_params)

    def upper(self) -> tuple[str, tuple[KeyValue, ...]]:
        if self.hi is None:
            return compare_sql(self.columns, "<="), compare_params(self.last)
        return compare_sql(self.columns, "<"), compare_params(self.hi)

    def after(self, done: Key) -> tuple[str, tuple[KeyValue, ...]]:
        """Rows of the chunk strictly after `done` (a keyset batch's predicate)."""
        upper, upper_params = self.upper()
        return f"{compare_sql(self.columns, '>')} AND {upper}", (*compare_params(done), *upper_params)

    def stored_bounds(self) -> tuple[int | None, int | None, str | None, str | None]:
        hi = {"<": list(self.hi)} if self.hi is not None else {"<=": list(self.last)}
        return None, None, json.dumps(list(self.lo)), json.dumps(hi)

    def payload(self) -> KeyChunkPayload:
        return KeyChunkPayload(
            index=self.index,
            columns=list(self.columns),
            lo=list(self.lo),
            hi=list(self.hi) if self.hi is not None else None,
            last=list(self.last),
            rows=self.rows,
            label=self.label,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KeyChunk:
        columns = tuple(validate_identifier(c, "key column") for c in data["columns"])
        hi = data.get("hi")
        return cls(
            int(data["index"]),
            columns,
            _key(data["lo"], columns),
            _key(hi, columns) if hi is not None else None,
            _key(data["last"], columns),
            data.get("rows"),
        )


def _key(values: Sequence[Any], columns: Sequence[str]) -> Key:
    if len(values) != len(columns) or not all(isinstance(v, int | str) and not isinstance(v, bool) for v in values):
        raise BulkscanInputError(f"a key of ({', '.join(columns)}) must be {len(columns)} integers or strings")
    return tuple(values)


def iter_key_chunks(
    walk: KeyWalk,
    columns: tuple[str, ...],
    bounds: tuple[Key, Callable[[], Key]],
    total: int | None,
    rows_per_chunk: int,
    max_chunks: int,
) -> Iterator[KeyChunk]:
    """Chunks from `first` of `rows_per_chunk` rows each, the final one taking the rest up to `last()`.

    `walk(lo, n)` returns (the n-th key at or after lo, the (n+1)-th) or None when no more than n
    rows remain: one index walk per chunk, as for integer keys. `last()` is asked once the walk has
    stopped, so the final chunk ends at the last key that exists then. With `total` unknown, the
    final chunk's `rows` is None for the caller to count.
    """
    rows_per_chunk = positive_int(rows_per_chunk, "rows per chunk")
    max_chunks = positive_int(max_chunks, "maximum chunk count")
    first, last_key = bounds
    if total is not None and total <= 0:
        return
    if total is not None:
        rows_per_chunk = fitted_rows_per_chunk(total, rows_per_chunk, max_chunks)
    lo, done, index = first, 0, 0
    while True:
        stop = index == max_chunks - 1 or (total is not None and total - done <= rows_per_chunk)
        step = None if stop else walk(lo, rows_per_chunk)
        if step is None:
            yield KeyChunk(index, columns, lo, None, last_key(), None if total is None else total - done)
            return
        chunk_last, nxt = step
        yield KeyChunk(index, columns, lo, nxt, chunk_last, rows_per_chunk)
        lo, done, index = nxt, done + rows_per_chunk, index + 1


def key_select(columns: Sequence[str], desc: bool = False) -> tuple[Fragment, Fragment]:
    """(`a`, `b`) and the ORDER BY of the index walk (`a` DESC, `b` DESC for the last key)."""
    cols = [quote_identifier(c) for c in columns]
    order = ", ".join(f"{c} DESC" for c in cols) if desc else ", ".join(cols)
    return Fragment(", ".join(cols)), Fragment(order)
