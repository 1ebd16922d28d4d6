"""Key sub-ranges of a table read straight into Arrow by ConnectorX: the Arrow batch mode of
bulkscan.mysqldb.scanner. ConnectorX opens connections of its own and takes no bound parameters, so
the statement is written out here (integer bounds, filter values quoted by the driver's literal()) and
a failed read is retried with the scanner's own back-off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bulkscan.core.dbapi import Connection
from bulkscan.core.sqlfiles import Fragment, render
from bulkscan.mysqldb.source import TableSpec

if TYPE_CHECKING:
    from bulkscan.mysqldb.resilient import ResilientConnection


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

        sql, failures = self.sql(lo, hi), 0
        while True:
            try:
                return cx.read_sql(self.uri, sql, return_type="arrow")
            except Exception as exc:
                failures += 1
                if failures > self.db.max_reconnects:
                    raise
                self.db.back_off(exc, failures, "arrow read failed", reconnect=False)


def _literal(conn: Connection, value: Any) -> str:
    """A filter value as SQL text, quoted by the driver (mysqlclient's literal(): its own escaping of
    bound parameters), for a reader that takes no parameters."""
    text = conn.literal(value)  # type: ignore[attr-defined]
    return text.decode() if isinstance(text, bytes) else str(text)
