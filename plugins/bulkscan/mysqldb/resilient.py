"""Read queries that survive a lost connection: reconnect with back-off, bounded attempts, and short
read-only consistent snapshots (a batch and the COUNT(*) of its key range read together)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from bulkscan.core.dbapi import ConnectFactory, Connection, Cursor, Row
from bulkscan.core.sqlfiles import Fragment, raw, render
from bulkscan.mysqldb.connect import close_quietly, is_disconnect

log = logging.getLogger(__name__)
T = TypeVar("T")


class ResilientConnection:
    """Runs read queries, reconnecting with back-off when the server went away (bounded attempts)."""

    def __init__(self, connect: ConnectFactory, max_reconnects: int = 8, logger: logging.Logger = log):
        self.connect = connect
        self.max_reconnects = max_reconnects
        self.reconnects = 0
        self.log = logger
        self.conn: Connection | None = None

    def open(self) -> Connection:
        if self.conn is None:
            self.conn = self.connect()
            cur = self.conn.cursor()  # a consistent snapshot (in_snapshot) needs REPEATABLE READ
            cur.execute(render("common/set_isolation", isolation=Fragment("REPEATABLE READ")))
            cur.close()
        return self.conn

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any]) -> Sequence[Row]:
        def one(cur: Cursor) -> Sequence[Row]:
            cur.execute(sql, params)
            return cur.fetchall()

        return self._retry(one, snapshot=False)

    def in_snapshot(self, work: Callable[[Cursor], T]) -> T:
        """`work(cursor)` in one short read-only consistent snapshot, committed when it returns; on a lost
        connection the whole of it runs again on a new one (work only reads)."""
        return self._retry(work, snapshot=True)

    def _retry(self, work: Callable[[Cursor], T], snapshot: bool) -> T:
        failures = 0
        while True:
            try:
                conn = self.open()
                cur = conn.cursor()
                if snapshot:
                    cur.execute(raw("common/snapshot_begin"))
                out = work(cur)
                if snapshot:
                    conn.commit()
                cur.close()
                return out
            except Exception as exc:
                if snapshot and self.conn is not None:
                    with contextlib.suppress(Exception):
                        self.conn.rollback()
                if not is_disconnect(exc) or failures >= self.max_reconnects:
                    raise
                failures += 1
                self.back_off(exc, failures, "connection lost")

    def back_off(self, exc: BaseException, failures: int, what: str, reconnect: bool = True) -> None:
        """Wait before attempt `failures + 1` (0.5 s doubling, at most 10 s), dropping the connection
        first when it is the one that failed; counted in `reconnects`."""
        self.reconnects += 1
        if reconnect:
            self.close()
        delay = min(0.5 * 2 ** (failures - 1), 10.0)
        self.log.warning("%s (%s); again in %.1fs (attempt %d)", what, exc, delay, failures)
        time.sleep(delay)

    def close(self) -> None:
        close_quietly(self.conn)
        self.conn = None
