"""Key sub-ranges of numeric columns read as arrays from a prepared statement: the fast Arrow reader.

When every column an Arrow processor asks for is a fixed-width number, a sub-range is read through a
server-side prepared statement on a PyMySQL connection of its own: bounds and filter values bound
(`?`), the binary rows received in large blocks and viewed as arrays (bulkscan.core.binary_rows),
then handed over as a pyarrow Table. The server's own count of the rows it sent (FOUND_ROWS(), the
same statement, so the same consistent read) is the sub-range's count for the reconcile, in place of
a second COUNT(*) pass over the range.

PyMySQL does the connection and its authentication; this module sends COM_STMT_PREPARE and
COM_STMT_EXECUTE and reads the rows itself, which PyMySQL does not do. For that it uses PyMySQL's
connection internals (`_execute_command`, `_read_packet`, `_rfile`, `_sock`), pinned by
requirements.lock: tests/mysqldb/test_binary_ranges.py fails on a PyMySQL that changes them.
Anything it cannot read as fixed-width rows (a string, date or DECIMAL column; a NULL) raises
NotFixedWidth, and the scanner reads that sub-range with ConnectorX (bulkscan.mysqldb.arrow) instead.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import pymysql
from pymysql.protocol import FieldDescriptorPacket

from bulkscan.core.binary_rows import (
    COM_STMT_CLOSE,
    COM_STMT_EXECUTE,
    COM_STMT_PREPARE,
    ERR_LEAD,
    Column,
    NotFixedWidth,
    RowLayout,
    execute_payload,
    is_eof,
    packet_length,
    prepare_ok,
)
from bulkscan.core.sqlfiles import Fragment, raw, render
from bulkscan.mysqldb.connect import DISCONNECT_CODES
from bulkscan.mysqldb.source import TableSpec

if TYPE_CHECKING:
    from bulkscan.mysqldb.resilient import ResilientConnection

BLOCK_ROWS = 65_536  # rows received per read into the reused buffer
WAIT_S = 0.002  # a bulk read returns what has arrived this long after its first byte


class BinaryRanges:
    """Reads [lo, hi) of one table's `columns` as (pyarrow.Table, the server's count of its rows)."""

    def __init__(self, uri: str, spec: TableSpec, columns: tuple[str, ...], db: ResilientConnection) -> None:
        self.uri, self.columns, self.db = uri, columns, db
        where, self.params = spec.where()
        self.sql = render(
            "common/binary_range",
            columns=spec.column_sql(columns),
            table=spec.table_sql(),
            key=spec.key_sql(),
            where=Fragment(str(where) % tuple("?" for _ in self.params)) if self.params else where,
        )
        self.conn: Any = None
        self.statement = 0
        self.layout: RowLayout | None = None

    def read(self, lo: int, hi: int) -> tuple[Any, int]:
        """The sub-range and the server's count of it. A lost connection is opened again after the
        scanner's back-off, at most as often as it reconnects; NotFixedWidth is the caller's to handle.
        While it reads, the scan's statement deadline ends the statement on this reader's connection."""
        try:
            with self.db.reading_on(self._server_id):
                return self.db.retry_reads(
                    lambda: self._read(int(lo), int(hi)), "binary read failed", _lost, self.close
                )
        except NotFixedWidth:
            self.close()  # the connection may be mid-result
            raise

    def _read(self, lo: int, hi: int) -> tuple[Any, int]:
        self._open()
        table = self._execute((lo, hi, *self.params))
        return table, self._found_rows()

    def _server_id(self) -> int | None:
        conn = self.conn
        return int(conn.thread_id()) if conn is not None else None

    def close(self) -> None:
        conn, self.conn, self.layout = self.conn, None, None
        if conn is None:
            return
        with suppress(Exception):  # a connection already lost has nothing to close
            conn._execute_command(COM_STMT_CLOSE, self.statement.to_bytes(4, "little"))
        with suppress(Exception):
            conn.close()

    def _open(self) -> None:
        if self.conn is not None:
            return
        self.conn = _connect(self.uri)
        self.conn._execute_command(COM_STMT_PREPARE, self.sql)
        self.statement, ncols, nparams = prepare_ok(self.conn._read_packet().get_all_data())
        if nparams:
            for _ in range(nparams + 1):  # parameter definitions, then EOF
                self.conn._read_packet()
        fields = [self.conn._read_packet(FieldDescriptorPacket) for _ in range(ncols)]
        if ncols:
            self.conn._read_packet()  # EOF
        self.layout = RowLayout.of([Column(f.name, f.type_code, f.flags) for f in fields])

    def _execute(self, params: tuple[Any, ...]) -> Any:
        import pyarrow as pa

        conn, layout = self.conn, self.layout
        assert layout is not None
        conn._execute_command(COM_STMT_EXECUTE, execute_payload(self.statement, params))
        ncols = conn._read_packet().read_length_encoded_integer()
        for _ in range(ncols + 1):  # the column definitions again, then EOF
            conn._read_packet()
        blocks = _read_rows(conn, layout)
        columns = [pa.array(_concat([b[i] for b in blocks])) for i in range(len(layout.names))]
        return pa.table(columns, names=list(self.columns))

    def _found_rows(self) -> int:
        with self.conn.cursor() as cur:
            cur.execute(raw("common/found_rows"))
            return int(cur.fetchone()[0])


def _lost(exc: BaseException) -> bool:
    """A connection that went away (read again on a new one), not a statement the server ended (a KILL
    QUERY by the statement deadline, 1317) or refused."""
    if isinstance(exc, pymysql.err.OperationalError):
        return bool(exc.args) and exc.args[0] in DISCONNECT_CODES
    return isinstance(exc, pymysql.err.InterfaceError | OSError)


def _read_rows(conn: Any, layout: RowLayout) -> list[tuple[Any, ...]]:
    """Every row packet up to the result's EOF, as blocks of column arrays."""
    buf = bytearray(layout.stride * BLOCK_ROWS)
    view, blocks = memoryview(buf), []
    # First what PyMySQL's buffered reader holds already (a small result may be all there): asked for
    # exactly, so it is copied without a read on the socket, which would wait for bytes that never
    # come. After that its buffer stays empty and every read is on the socket itself.
    have = conn._rfile.readinto1(view[: min(len(conn._rfile.peek()), len(buf))])
    with _bulk_reads(conn._sock, len(buf) // 2) as recv:
        while True:
            rows = layout.split(buf, have)
            blocks.append(rows.columns)
            if rows.end is not None:
                buf[: have - rows.end] = buf[rows.end : have]
                _finish(recv, view, have - rows.end, layout)
                return blocks
            buf[: have - rows.used] = buf[rows.used : have]
            have -= rows.used
            have += recv(view[have:])


@contextmanager
def _bulk_reads(sock: socket.socket, low: int) -> Iterator[Callable[[memoryview], int]]:
    """recv_into on `sock` that waits for `low` bytes, or WAIT_S after the first byte, whichever comes
    first (SO_RCVLOWAT with SO_RCVTIMEO): the server writes its rows 16 KB at a time, and waking for
    each write cost more than reading the rows. The socket's own settings come back afterwards, so
    PyMySQL's reads of small replies do not wait. Where the options are refused, reads are plain."""
    tuned = True
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, low)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(WAIT_S))
    except OSError:
        tuned = False

    def recv(view: memoryview) -> int:
        while True:
            try:
                got = sock.recv_into(view)
            except BlockingIOError:  # nothing in WAIT_S: the server is still working
                continue
            if not got:
                raise pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")
            return got

    try:
        yield recv
    finally:
        if tuned:
            with suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(0))


def _timeval(seconds: float) -> bytes:
    return struct.pack("ll", int(seconds), int(seconds % 1 * 1_000_000))


def _finish(recv: Callable[[memoryview], int], view: memoryview, have: int, layout: RowLayout) -> None:
    """The `have` bytes at the start of `view` begin with the packet that ended the rows: the result's
    EOF, an error, or a row this layout cannot hold."""
    while have < 4 or have < 4 + packet_length(view[:4]):
        have += recv(view[have:])
    payload = bytes(view[4 : 4 + packet_length(view[:4])])
    if is_eof(payload) and have == 4 + len(payload):
        return
    if payload[:1] == bytes([ERR_LEAD]):
        pymysql.err.raise_mysql_exception(payload)
    raise NotFixedWidth(
        f"a row packet of {len(payload) + 4} bytes where every row of these columns has {layout.stride}: a NULL"
    )


def _concat(parts: list[Any]) -> Any:
    import numpy as np

    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _connect(uri: str) -> Any:
    """A PyMySQL connection to the ConnectorX URI's server (mysql://user:password@host:port/schema),
    autocommit, utf8mb4, the same credentials as the run's Airflow connection."""
    u = urlsplit(uri)
    return pymysql.connect(
        host=u.hostname or "127.0.0.1",
        port=u.port or 3306,
        user=unquote(u.username or "root"),
        password=unquote(u.password or ""),
        database=unquote(u.path.lstrip("/")) or None,
        charset="utf8mb4",
        autocommit=True,
    )
