"""User processors for the DAG tests: fault injection lives here, never in bulkscan itself."""

from __future__ import annotations

import threading
import time
from typing import Any

import MySQLdb

from bulkscan.core.processors import AggregateByKey, ChunkContext, SendMessages
from devtools.demo.data import HUGE_GAP
from tests.locks import hold_until_waiters_gone


class FaultyAggregate(AggregateByKey):
    """The aggregate processor, failing mid-chunk while a fault row exists for its chunk.

    `mode="once"` fails only the first attempt; `mode="table"` fails while `faults` holds the chunk;
    `mode="hang"` makes the first attempt hang mid-chunk (10 minutes), for a timeout to end it.
    `mode="lock"` makes the first attempt's queries wait on the server: another session takes LOCK TABLES
    ... WRITE on the table as the attempt opens, and lets go once the attempt's waiting query is gone.
    Every attempt is recorded in `attempts`, so tests can see which chunks ran again.
    """

    def __init__(self, control_db: str, group: str, value: str, mode: str = "once", port: int = 3306) -> None:
        super().__init__(group, value)
        self.control_db, self.mode, self.port = control_db, mode, port

    def _db(self) -> Any:
        return MySQLdb.connect(host="127.0.0.1", port=self.port, user="root", database=self.control_db, autocommit=True)

    def open(self, ctx: ChunkContext) -> None:
        super().open(ctx)
        conn = self._db()
        cur = conn.cursor()
        cur.execute(
            "INSERT INTO attempts (run_key, chunk_index, try_number) VALUES (%s, %s, %s)",
            (ctx.run_key, ctx.chunk.index, ctx.try_number),
        )
        cur.execute("SELECT COUNT(*) FROM faults WHERE chunk_index = %s", (ctx.chunk.index,))
        self.fail = cur.fetchone()[0] > 0 and (self.mode == "table" or ctx.try_number == 1)
        conn.close()
        if self.fail and self.mode == "lock":
            locked = threading.Event()
            threading.Thread(target=self._hold_lock, args=(locked,), daemon=True).start()
            assert locked.wait(30), "the lock holder did not get its lock"
            self.fail = False  # nothing fails in Python: the server holds the chunk

    def _hold_lock(self, locked: threading.Event, table: str = "events") -> None:
        """LOCK TABLES <table> WRITE until a query waiting on it has come and gone, or for at most a minute;
        which of the two ended the hold goes into `holds` ("waiter gone" / "gave up")."""
        holder, watch = self._db(), self._db()
        outcome = hold_until_waiters_gone(holder, watch, table, locked)
        watch.cursor().execute("INSERT INTO holds (run_key, outcome) VALUES (%s, %s)", (self.ctx.run_key, outcome))
        holder.close()
        watch.close()

    def add_groups(self, rows: Any) -> None:
        super().add_groups(rows)
        if self.fail and self.mode == "hang":
            time.sleep(600)
        if self.fail:
            raise RuntimeError(f"injected fault in chunk {self.ctx.chunk.index} (try {self.ctx.try_number})")


def faulty_aggregate(**kwargs: Any) -> FaultyAggregate:
    return FaultyAggregate(**kwargs)


class RecordingMessages(SendMessages):
    """Seed 000's per-row messages (the built-in outbox processor), recording every row it is handed
    in `seen` as it goes (outside any transaction: the row-by-row record of what each try saw), and
    failing one chunk's first try after its `fail_batch`-th batch was processed but before that
    batch's checkpoint commits: `mode="raise"` raises, `mode="stall"` sleeps so a test can SIGKILL
    the worker."""

    def __init__(self, control_db: str, column: str, fail_at: tuple[int, int], mode: str = "raise", port: int = 3306):
        super().__init__(column)
        self.control_db, self.port = control_db, port
        (self.fail_chunk, self.fail_batch), self.mode = fail_at, mode
        self.batch_no = 0

    def process(self, rows: Any, columns: tuple[str, ...]) -> None:
        replay = self.replay
        super().process(rows, columns)
        self.batch_no += 1
        ctx = self.ctx
        conn = MySQLdb.connect(host="127.0.0.1", port=self.port, user="root", database=self.control_db, autocommit=True)
        try:
            conn.cursor().executemany(
                "INSERT INTO seen (run_key, chunk_index, row_key, try_number, replay, batch)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                [(ctx.run_key, ctx.chunk.index, r[0], ctx.try_number, replay, self.batch_no) for r in rows],
            )
        finally:
            conn.close()
        if ctx.chunk.index == self.fail_chunk and ctx.try_number == 1 and self.batch_no == self.fail_batch:
            if self.mode == "stall":
                time.sleep(600)
            raise RuntimeError(f"injected fault after batch {self.batch_no} of chunk {ctx.chunk.index}")


def recording_messages(**kwargs: Any) -> RecordingMessages:
    return RecordingMessages(**kwargs)


class WritingAggregate(AggregateByKey):
    """The aggregate processor that, after its first batch, inserts `rows` new rows into its own chunk's
    key range through another connection (ids that are missing from the events table: id % 7 == 3), as
    a writer busy on the table while the scan runs would."""

    def __init__(self, database: str, group: str, value: str, rows: int = 5, port: int = 3306) -> None:
        super().__init__(group, value, pushdown=False)
        self.database, self.rows, self.port, self.written = database, rows, port, False

    def process(self, rows: Any, columns: Any) -> None:
        super().process(rows, columns)
        if self.written:
            return
        self.written = True
        conn = MySQLdb.connect(host="127.0.0.1", port=self.port, user="root", database=self.database, autocommit=True)
        start = self.ctx.chunk.lo + (3 - self.ctx.chunk.lo) % 7
        ids = list(range(start, self.ctx.chunk.hi, 7))[: self.rows]
        conn.cursor().executemany(
            "INSERT INTO events (id, user_id, amount, created_at, note) VALUES (%s, 1, 1, NOW(), 'w')",
            [(i,) for i in ids],
        )
        conn.close()


def writing_aggregate(**kwargs: Any) -> WritingAggregate:
    return WritingAggregate(**kwargs)


class BulkLoadingAggregate(AggregateByKey):
    """The aggregate processor of a chunk that a bulk load lands in after planning: as the chunk holding
    the events table's billion-id gap opens, `rows` new rows are inserted into the gap through another
    connection (note 'bulk'), so the chunk holds far more rows than its plan said (an estimate gone wrong,
    made real). Pushed down or not (`pushdown`)."""

    def __init__(self, database: str, group: str, value: str, rows: int, pushdown: bool, port: int = 3306) -> None:
        super().__init__(group, value, pushdown=pushdown)
        self.database, self.rows, self.port = database, rows, port

    def open(self, ctx: Any) -> None:
        super().open(ctx)
        conn = MySQLdb.connect(host="127.0.0.1", port=self.port, user="root", database=self.database, autocommit=True)
        try:
            cur = conn.cursor()
            cur.execute("SELECT MAX(id), SUM(note = 'bulk') FROM events WHERE id < %s", (HUGE_GAP,))
            before_gap, loaded = cur.fetchone()
            before_gap, chunk = int(before_gap), ctx.chunk
            if not loaded and chunk.lo <= before_gap + 1 < chunk.hi and not getattr(chunk, "columns", None):
                cur.executemany(
                    # every value bound: MySQLdb sends a multi-row INSERT only for a VALUES clause of %s alone
                    "INSERT INTO events (id, user_id, amount, created_at, note) VALUES (%s, %s, %s, %s, %s)",
                    [(before_gap + 1 + i, i % 50 + 1, 1, "2026-06-01", "bulk") for i in range(self.rows)],
                )
        finally:
            conn.close()


def bulk_loading_aggregate(**kwargs: Any) -> BulkLoadingAggregate:
    return BulkLoadingAggregate(**kwargs)
