"""Key sub-ranges of a table read straight into Arrow: the Arrow batch mode of bulkscan.mysqldb.scanner.

`ArrowReaders` picks the reader per chunk. Numeric columns go through a prepared statement whose binary
rows are read as arrays (bulkscan.mysqldb.binary_ranges), counted by the server in the same statement.
Anything else (a string, date or DECIMAL column, or a NULL) is read by ConnectorX (`ArrowRanges`), which
opens connections of its own and takes no bound parameters, so its statement is written out here
(integer bounds, filter values quoted by the driver's literal()); each of its sub-ranges is counted by a
COUNT(*) on bulkscan's connection straight after. A failed read is retried with the scanner's back-off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bulkscan.core.dbapi import Connection
from bulkscan.core.sqlfiles import Fragment, render
from bulkscan.errors import BulkscanInputError
from bulkscan.mysqldb.source import TableSpec

if TYPE_CHECKING:
    from bulkscan.mysqldb.resilient import ResilientConnection


def refuse_tuple_key(spec: TableSpec) -> None:
    """Arrow batches read integer sub-ranges of one key column: on a composite or string key they are
    refused, naming the table and its key (the table scan's plan calls this before it writes anything)."""
    if spec.tuple_key:
        raise BulkscanInputError(
            f"Arrow batches read sub-ranges of a single integer key; {spec.name} is keyed by "
            f"({', '.join(spec.keys)}). Use a processor that reads rows (processor 'aggregate', or one "
            "without Arrow batches) for this table."
        )


class ArrowRanges:
    """Reads [lo, hi) of one table's `columns` as a pyarrow.Table, for one chunk's scan."""

    def __init__(self, uri: str, spec: TableSpec, columns: tuple[str, ...], db: ResilientConnection) -> None:
        self.uri, self.spec, self.columns, self.db = uri, spec, columns, db
        where, params = spec.where()
        literal = tuple(_literal(db.open(), v) for v in params)  # quoted once per chunk
        self.where = Fragment(str(where) % literal) if literal else where

    def sql(self, lo: int, hi: int) -> str:
        return render(
            "common/arrow_range",
            columns=self.spec.column_sql(self.columns),
            table=self.spec.table_sql(),
            key=self.spec.key_sql(),
            lo=Fragment(str(int(lo))),
            hi=Fragment(str(int(hi))),
            where=self.where,
        )

    def read(self, lo: int, hi: int) -> Any:
        """The sub-range as a pyarrow.Table; a failed read is tried again after the scanner's back-off,
        at most as often as it reconnects."""
        import connectorx as cx

        sql = self.sql(lo, hi)
        return self.db.retry_reads(lambda: cx.read_sql(self.uri, sql, return_type="arrow"), "arrow read failed")


def _literal(conn: Connection, value: Any) -> str:
    """A filter value as SQL text, quoted by the driver (mysqlclient's literal(): its own escaping of
    bound parameters), for a reader that takes no parameters."""
    text = conn.literal(value)  # type: ignore[attr-defined]
    return text.decode() if isinstance(text, bytes) else str(text)


class ArrowReaders:
    """A chunk's Arrow readers: the binary one while it can read the columns, then ConnectorX with a
    COUNT(*) of each sub-range. Close it (`contextlib.closing`) when the chunk is done."""

    def __init__(self, uri: str, spec: TableSpec, columns: tuple[str, ...], db: ResilientConnection) -> None:
        from bulkscan.mysqldb.binary_ranges import BinaryRanges  # NumPy and PyMySQL: Arrow mode only

        self.binary: BinaryRanges | None = BinaryRanges(uri, spec, columns, db)
        self.uri, self.spec, self.columns = uri, spec, columns
        self.fallback: ArrowRanges | None = None  # made when first needed: it quotes the filter values
        self.count_sql = render("common/range_count", **spec.parts())
        self.where_params = spec.where()[1]
        self.db = db

    def read(self, bounds: tuple[int, int]) -> tuple[Any, int]:
        """One sub-range as a pyarrow.Table, and its count."""
        from bulkscan.core.binary_rows import NotFixedWidth

        if self.binary is not None:
            try:
                return self.binary.read(*bounds)
            except NotFixedWidth as exc:
                self.db.log.info("Arrow sub-ranges from %s on are read by ConnectorX: %s", bounds, exc)
                self.binary.close()
                self.binary = None
        return self._counted(bounds)

    def _counted(self, bounds: tuple[int, int]) -> tuple[Any, int]:
        """One sub-range through ConnectorX and its COUNT(*), the pair read again (up to three times in
        all) while a writer makes them differ."""
        for attempt in range(1, 4):
            if self.fallback is None:
                self.fallback = ArrowRanges(self.uri, self.spec, self.columns, self.db)
            table = self.fallback.read(*bounds)
            expected = int(self.db.query(self.count_sql, (bounds[0], bounds[1], *self.where_params))[0][0])
            if expected == table.num_rows or attempt == 3:
                return table, expected
            self.db.log.warning(
                "sub-range %s changed while it was read (%d rows, count %d): reading it again",
                bounds,
                table.num_rows,
                expected,
            )
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.binary is not None:
            self.binary.close()
