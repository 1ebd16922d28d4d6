"""Read queries that survive a lost connection: reconnect with back-off, bounded attempts, and short
read-only consistent snapshots (a batch and the COUNT(*) of its key range read together); and a deadline
that ends a statement blocked on the server (`statement_deadline`)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import MySQLdb

from bulkscan.core.dbapi import ConnectFactory, Connection, Cursor, Row
from bulkscan.core.sqlfiles import Fragment, raw, render
from bulkscan.mysqldb.connect import close_quietly, cursor, is_disconnect

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
        self.server_id: int | None = None  # the open connection's CONNECTION_ID(), what KILL QUERY names
        self._reader_id: Callable[[], int | None] | None = None  # see `reading_on`

    @contextmanager
    def reading_on(self, server_id: Callable[[], int | None]) -> Iterator[None]:
        """While the block runs, the scan's statement runs on a reader's connection of its own (the binary
        Arrow reader's), whose CONNECTION_ID() `server_id()` gives: `statement_deadline` ends that one."""
        self._reader_id = server_id
        try:
            yield
        finally:
            self._reader_id = None

    def running_id(self) -> int | None:
        """The CONNECTION_ID() of the connection running the scan's statement now (see `reading_on`)."""
        reader = self._reader_id
        found = reader() if reader is not None else None
        return found if found is not None else self.server_id

    def open(self) -> Connection:
        if self.conn is None:
            conn = self.connect()
            cur = conn.cursor()  # a consistent snapshot (in_snapshot) needs REPEATABLE READ
            cur.execute(render("common/set_isolation", isolation=Fragment("REPEATABLE READ")))
            cur.execute(raw("common/connection_id"))
            found = cur.fetchone()
            cur.close()
            self.conn, self.server_id = conn, int(found[0]) if found else None
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

    def retry_reads(
        self,
        read: Callable[[], T],
        what: str,
        retry_if: Callable[[BaseException], bool] = lambda exc: True,
        reset: Callable[[], None] | None = None,
    ) -> T:
        """`read()` on a connection of its own (a columnar reader's), tried again after the back-off
        while it fails with an error `retry_if` accepts, at most `max_reconnects` times; `reset` drops
        the reader's connection before each wait."""
        failures = 0
        while True:
            try:
                return read()
            except Exception as exc:
                if reset is not None:
                    reset()
                failures += 1
                if not retry_if(exc) or failures > self.max_reconnects:
                    raise
                self.back_off(exc, failures, what, reconnect=False)

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
        self.conn, self.server_id = None, None


ABANDON_POLL_S = 0.05  # how soon a statement is ended once its caller abandons it


@contextmanager
def statement_deadline(
    db: ResilientConnection, seconds: float | None, what: str, abandon: threading.Event | None = None
) -> Iterator[None]:
    """After `seconds`, or as soon as `abandon` is set, end the statement `db` is running with KILL QUERY,
    sent on a connection of its own.

    A time limit kept by a signal (a chunk's own, Airflow's execution_timeout: both SIGALRM) raises only
    once the blocked client call returns, and a statement waiting on the server does not return: behind a
    metadata lock (DDL, LOCK TABLES), a row lock, a plan gone wrong. The killed statement fails with "Query
    execution was interrupted" (1317, not a lost connection, so not retried here), and the alarm that was
    pending then raises in the task. A scan running in a thread of its own (a shard task's tables side by
    side) cannot see the alarm at all: the task sets `abandon` when its time is up, so the statement ends
    with the task instead of running on in a process about to exit. Nothing happens when the block ends
    first. While a reader of the scan's own (the binary Arrow reader) runs the statement on its own
    connection (`ResilientConnection.reading_on`), that connection's statement is the one ended.
    """
    with query_deadline(db.connect, db.running_id, seconds, what, db.log, abandon):
        yield


@contextmanager
def query_deadline(
    connect: ConnectFactory,
    server_id: Callable[[], int | None],
    seconds: float | None,
    what: str,
    logger: logging.Logger = log,
    abandon: threading.Event | None = None,
) -> Iterator[None]:
    """`statement_deadline` for any connection: `server_id()` names it (its CONNECTION_ID(), read when the
    deadline comes, None: nothing to end) and `connect` opens the connection the KILL QUERY is sent on."""
    if (not seconds or seconds <= 0) and abandon is None:
        yield
        return
    started, ended = time.monotonic(), threading.Event()

    def kill() -> None:
        target = server_id()
        if target is None:
            return
        after = time.monotonic() - started
        try:
            with cursor(connect) as cur:
                cur.execute(raw("common/kill_query"), (target,))
            logger.warning("%s: a statement was still running after %.0f s; ended it on the server", what, after)
        except MySQLdb.Error as exc:  # the server may be unreachable too: then the connection's own timeouts end it
            logger.warning("%s: could not end its statement after %.0f s (%s)", what, after, exc)

    def watch() -> None:
        due = started + seconds if seconds and seconds > 0 else None
        while True:
            left = None if due is None else due - time.monotonic()
            if (left is not None and left <= 0) or (abandon is not None and abandon.is_set()):
                kill()
                return
            # until the deadline (one wait without `abandon`), or a short poll for `abandon`
            poll = ABANDON_POLL_S if abandon is not None else None
            if ended.wait(min(s for s in (left, poll) if s is not None)):
                return

    watcher = threading.Thread(target=watch, name=f"deadline {what}", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        ended.set()
