"""bulkscan's own result tables, keyed by run and chunk.

A chunk's write is one transaction that first deletes what any earlier attempt of the same run and
chunk wrote, so a retried or re-run chunk replaces its output and nothing is counted twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import MySQLdb

from bulkscan.core.chunks import Chunk
from bulkscan.core.identifiers import quote_identifier
from bulkscan.mysqldb.connect import ConnectFactory, close_quietly
from bulkscan.processors import GroupSums
from bulkscan.sqlfiles import Fragment, render

NULL_GROUP = "\\N"  # how a NULL group value is stored (the key column is NOT NULL)
INSERT_BATCH = 5_000
TX_ATTEMPTS = 5
RETRYABLE_TX = frozenset({1213, 1205})  # deadlock, lock wait timeout
T = TypeVar("T")


def group_key(value: Any) -> str:
    if value is None:
        return NULL_GROUP
    if isinstance(value, bytes):
        value = value.decode()
    return str(value)


@dataclass(frozen=True)
class MergedRun:
    run_key: str
    chunks: int
    rows: int
    groups: int
    value_sum: Decimal | None


class ResultStore:
    def __init__(self, connect: ConnectFactory, schema: str = "bulkscan"):
        self.connect = connect
        self.schema = schema
        self.q = quote_identifier(schema, "results schema")

    def _conn(self) -> Any:
        return self.connect()

    def _transaction(self, work: Callable[[Any], T]) -> T:
        """Run `work(cursor)` in one READ COMMITTED transaction, retried on deadlock or lock wait timeout.

        READ COMMITTED takes no gap locks, so chunks of one run replacing their own rows side by side do
        not block each other; a deadlock that still happens is retried (the work is a whole replace).
        """
        for attempt in range(1, TX_ATTEMPTS + 1):
            conn = self._conn()
            try:
                cur = conn.cursor()
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                conn.autocommit(False)
                out = work(cur)
                conn.commit()
                return out
            except MySQLdb.OperationalError as exc:
                conn.rollback()
                if exc.args and exc.args[0] in RETRYABLE_TX and attempt < TX_ATTEMPTS:
                    time.sleep(0.05 * attempt)
                    continue
                raise
            except Exception:
                conn.rollback()
                raise
            finally:
                close_quietly(conn)
        raise AssertionError("unreachable")

    def ensure(self) -> None:
        """Create the schema's tables if missing (the schema itself must exist or be creatable)."""
        conn = self._conn()
        try:
            cur = conn.cursor()
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {self.q}")
            for stmt in render("results_schema", schema=Fragment(self.q)).split(";"):
                if stmt.strip():
                    cur.execute(stmt)
        finally:
            close_quietly(conn)

    def replace_chunk(
        self,
        run_key: str,
        chunk: Chunk,
        *,
        job: str,
        source: str,
        rows: int,
        seconds: float,
        try_number: int,
        groups: GroupSums | None = None,
        summary: str | None = None,
        from_query: tuple[str, tuple[Any, ...]] | None = None,
    ) -> tuple[int, int]:
        """Write one chunk's outcome (and partial sums) in one transaction, replacing earlier attempts.

        `from_query` = (SELECT group, sum, count ..., params) has the server compute the partial sums
        straight into the table (INSERT ... SELECT: nothing crosses the wire); `rows` and the group
        count are then read back from what was inserted. Returns (rows, groups) as stored.
        """
        q = self.q

        def write(cur: Any) -> tuple[int, int]:
            rows_ = rows
            cur.execute(
                f"DELETE FROM {q}.bulkscan_partial WHERE run_key = %s AND chunk_index = %s",
                (run_key, chunk.index),
            )
            if groups:
                sql = (
                    f"INSERT INTO {q}.bulkscan_partial (run_key, chunk_index, group_key, value_sum, row_count) "
                    "VALUES (%s, %s, %s, %s, %s)"
                )
                for batch in _batches(
                    ((run_key, chunk.index, group_key(g), s, n) for g, (s, n) in groups.items()), INSERT_BATCH
                ):
                    cur.executemany(sql, batch)
            n_groups = len(groups or ())
            if from_query is not None:
                query, params = from_query
                cur.execute(
                    f"INSERT INTO {q}.bulkscan_partial (run_key, chunk_index, group_key, value_sum, row_count) "
                    f"SELECT %s, %s, q.* FROM ({query}) AS q",
                    (run_key, chunk.index, *params),
                )
                cur.execute(
                    f"SELECT COUNT(*), COALESCE(SUM(row_count), 0) FROM {q}.bulkscan_partial "
                    "WHERE run_key = %s AND chunk_index = %s",
                    (run_key, chunk.index),
                )
                got_groups, got_rows = cur.fetchone()
                n_groups, rows_ = int(got_groups), int(got_rows)
            cur.execute(
                f"INSERT INTO {q}.bulkscan_chunk (run_key, chunk_index, job, source, lo, hi, planned_rows, "
                "rows_scanned, groups_count, try_number, seconds, summary) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON DUPLICATE KEY UPDATE job = VALUES(job), source = VALUES(source), lo = VALUES(lo), "
                "hi = VALUES(hi), planned_rows = VALUES(planned_rows), rows_scanned = VALUES(rows_scanned), "
                "groups_count = VALUES(groups_count), try_number = VALUES(try_number), writes = writes + 1, "
                "seconds = VALUES(seconds), summary = VALUES(summary)",
                (
                    run_key,
                    chunk.index,
                    job,
                    source,
                    chunk.lo,
                    chunk.hi,
                    chunk.rows,
                    rows_,
                    n_groups,
                    try_number,
                    seconds,
                    summary,
                ),
            )
            return rows_, n_groups

        return self._transaction(write)

    def chunks(self, run_key: str) -> list[dict[str, Any]]:
        conn = self._conn()
        try:
            cur = conn.cursor()
            cur.execute(
                f"SELECT chunk_index, lo, hi, planned_rows, rows_scanned, groups_count, try_number, writes, seconds "
                f"FROM {self.q}.bulkscan_chunk WHERE run_key = %s ORDER BY chunk_index",
                (run_key,),
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        finally:
            close_quietly(conn)

    def merge(self, run_key: str, *, job: str, source: str, chunks: int, rows: int) -> MergedRun:
        """Fold the partial sums of every chunk of the run into bulkscan_result (replacing a previous merge)."""
        q = self.q

        def write(cur: Any) -> MergedRun:
            cur.execute(f"DELETE FROM {q}.bulkscan_result WHERE run_key = %s", (run_key,))
            cur.execute(
                f"INSERT INTO {q}.bulkscan_result (run_key, group_key, value_sum, row_count) "
                f"SELECT run_key, group_key, SUM(value_sum), SUM(row_count) FROM {q}.bulkscan_partial "
                "WHERE run_key = %s GROUP BY run_key, group_key",
                (run_key,),
            )
            cur.execute(f"SELECT COUNT(*), SUM(value_sum) FROM {q}.bulkscan_result WHERE run_key = %s", (run_key,))
            groups, value_sum = cur.fetchone()
            cur.execute(
                f"REPLACE INTO {q}.bulkscan_run (run_key, job, source, chunks, rows_scanned, groups_count, value_sum) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (run_key, job, source, chunks, rows, groups, value_sum),
            )
            return MergedRun(run_key, chunks, rows, int(groups), value_sum)

        return self._transaction(write)

    def result(self, run_key: str) -> dict[str, tuple[Decimal, int]]:
        """The merged sums of a run: group_key -> (sum, rows)."""
        conn = self._conn()
        try:
            cur = conn.cursor()
            cur.execute(
                f"SELECT group_key, value_sum, row_count FROM {self.q}.bulkscan_result WHERE run_key = %s",
                (run_key,),
            )
            return {g: (s, int(n)) for g, s, n in cur.fetchall()}
        finally:
            close_quietly(conn)

    def top(self, run_key: str, limit: int = 5) -> list[tuple[str, Decimal, int]]:
        conn = self._conn()
        try:
            cur = conn.cursor()
            cur.execute(
                f"SELECT group_key, value_sum, row_count FROM {self.q}.bulkscan_result WHERE run_key = %s "
                "ORDER BY value_sum DESC, group_key LIMIT %s",
                (run_key, limit),
            )
            return [(g, s, int(n)) for g, s, n in cur.fetchall()]
        finally:
            close_quietly(conn)


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
