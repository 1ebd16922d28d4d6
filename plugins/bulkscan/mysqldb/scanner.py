"""Stream one chunk in keyset batches, in bounded memory, resuming after lost connections.

Rows mode:   SELECT cols ... WHERE key > last AND key < hi ORDER BY key LIMIT b   (never OFFSET)
Aggregate:   SUM/COUNT ... GROUP BY over key sub-ranges [cur, cur + span), the span sized from the
             rows per key seen so far (an integer key), or found by walking b rows of the index (a
             composite or string key, whose keys cannot be stepped by arithmetic).
`last` only advances after the processor consumed a batch, so a reconnect resumes exactly where
the chunk stood: no row is seen twice and none is skipped. A composite or string key (`KeyChunk`)
runs the same loops with tuple comparisons that the server evaluates (bulkscan.core.keys).

With `ScanOptions.count_range`, every batch is read in a short consistent snapshot of its own
(REPEATABLE READ, START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY, committed straight after) together
with a COUNT(*) of the batch's key range: the table scan's reconcile compares the chunk's rows with the
sum of those counts (`ChunkStats.range_rows`) without a second pass over the table; a row written while
the run goes on is either read and counted or neither. A snapshot per batch, not per chunk, holds no
metadata lock and no purge history for longer than one batch: DDL on the table is not kept waiting by a
long chunk. The running count is checkpointed with the batches, so a resumed try keeps it. The built-in
aggregate needs no second statement: its sub-ranges end WITH ROLLUP, and the server's total row is the
count (scanstate.ROLLUP_COUNT); a query file's sub-ranges are counted by a COUNT(*) as above. Arrow
sub-ranges of numeric columns are counted by the server in the statement that read them (FOUND_ROWS());
others by a COUNT(*) straight after ConnectorX's read (bulkscan.mysqldb.arrow.ArrowReaders).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import closing
from typing import Any

from bulkscan.core.batching import AdaptiveBatch
from bulkscan.core.chunks import Chunk
from bulkscan.core.dbapi import ConnectFactory, Row
from bulkscan.core.keys import KeyChunk
from bulkscan.core.processors import AggregateByKey, ArrowProcessor, ChunkContext, Processor, SqlFileAggregate
from bulkscan.core.sqlfiles import Fragment, render
from bulkscan.errors import BulkscanInputError
from bulkscan.mysqldb.arrow import ArrowReaders, refuse_tuple_key
from bulkscan.mysqldb.keyscan import KeyScan
from bulkscan.mysqldb.resilient import ResilientConnection, statement_deadline
from bulkscan.mysqldb.scanstate import ROLLUP_COUNT, ChunkStats, ScanOptions, grouping_sql
from bulkscan.mysqldb.source import TableSpec, all_columns

__all__ = [
    "ChunkStats",
    "ResilientConnection",
    "ScanOptions",
    "aggregate_queries",
    "arrow_batch",
    "pushdown_batch",
    "scan_chunk",
]


def pushdown_batch(target_seconds: float = 0.5) -> AdaptiveBatch:
    """Pushed-down sub-ranges return one row per group, not the rows, so they may span far more rows."""
    return AdaptiveBatch(
        size=1_000_000, target_seconds=target_seconds, minimum=1_000, maximum=5_000_000, max_growth=4.0
    )


def arrow_batch(target_seconds: float = 0.5) -> AdaptiveBatch:
    """Arrow sub-ranges start at their largest: each costs the processor a call and the reader a
    statement (a ConnectorX read, a connection of its own); an Arrow table of a million rows of a few
    numeric columns is tens of MB, the bound on memory."""
    return AdaptiveBatch(
        size=1_000_000, target_seconds=target_seconds, minimum=1_000, maximum=1_000_000, max_growth=4.0
    )


def scan_chunk(
    connect: ConnectFactory,
    spec: TableSpec,
    processor: Processor,
    ctx: ChunkContext,
    *,
    batch: AdaptiveBatch | None = None,
    options: ScanOptions | None = None,
) -> ChunkStats:
    """Scan [ctx.chunk.lo, ctx.chunk.hi) of `spec` through `processor`; return small statistics."""
    pushdown = isinstance(processor, AggregateByKey) and processor.pushdown
    arrow = isinstance(processor, ArrowProcessor)
    default = arrow_batch() if arrow else pushdown_batch() if pushdown else AdaptiveBatch()
    scan = _ChunkScan(connect, spec, ctx.chunk, batch or default, options)
    started = time.monotonic()
    processor.open(ctx)
    try:
        with statement_deadline(scan.db, scan.deadline_s, f"chunk {ctx.chunk.index} ({ctx.chunk.label})", scan.abandon):
            scan.resume(processor)
            if scan.position.get("end"):
                pass  # the try that died had committed every batch: nothing is left to read
            elif isinstance(processor, ArrowProcessor):
                scan.arrow(processor)
            elif isinstance(processor, AggregateByKey) and pushdown:
                scan.aggregate(processor)
            else:
                scan.rows(processor)
            scan.flush(processor)
        scan.stats.range_rows = scan.counted
    finally:
        scan.db.close()
        if scan.checkpoint is not None:
            scan.checkpoint.close()
    stats = scan.stats
    stats.reconnects = scan.db.reconnects
    stats.seconds = time.monotonic() - started
    stats.summary = processor.finish()
    scan.progress.update(stats.rows, ctx.chunk.hi if isinstance(ctx.chunk, Chunk) else 0, scan.batch.size, force=True)
    return stats


def aggregate_queries(
    spec: TableSpec, processor: AggregateByKey, *, rollup: bool = False, in_double: bool = False
) -> tuple[str, Any, str, Callable[[int, int], Any]]:
    """(whole-table SQL, its parameters, key-range SQL, parameters for a range) of a pushed-down aggregate.

    The built-in aggregate renders table_aggregate.sql / range_aggregate.sql with the spec's filters,
    `rollup`: WITH ROLLUP, its count in the same pass (scanstate.ROLLUP_COUNT); a user query file gets
    the quoted table and the key range, with its own named parameters bound (and is never rolled up).
    `in_double`: the value is summed as a DOUBLE (`TableSpec.value_sql`), for ranges of at most
    `TableSpec.double_exact_rows` rows, where it is exact.
    """
    if isinstance(processor, SqlFileAggregate):
        processor.refuse_filters(spec.filters)
        if spec.tuple_key:
            raise BulkscanInputError(
                "a query file needs an integer key; this table is keyed by " + ", ".join(spec.keys)
            )
        q = processor.query
        key = spec.key_sql()
        ranged = q.render(spec.table_sql(), Fragment(f"{key} >= %(bulkscan_lo)s AND {key} < %(bulkscan_hi)s"))
        return q.render(spec.table_sql(), Fragment("1=1")), q.bind(), ranged, q.bind
    group = Fragment(spec.column_sql([processor.group]) if processor.group else "NULL")
    hint = Fragment("SQL_BIG_RESULT" if processor.group else "")
    parts = spec.parts(
        group_expr=group, value=spec.value_sql(processor.value, in_double), hint=hint, grouping=grouping_sql(rollup)
    )
    _, where_params = spec.where()
    return (
        render("common/table_aggregate", **parts),
        where_params,
        render("common/range_aggregate", **parts),
        lambda lo, hi: (lo, hi, *where_params),
    )


class _ChunkScan(KeyScan):
    """A chunk scan's loops over an integer key (rows, pushed-down sub-ranges, Arrow sub-ranges)."""

    def rows(self, processor: Processor) -> None:
        """Keyset batches of rows into `processor.process` (never OFFSET, never the whole range)."""
        spec, chunk, batch, stats = self.spec, self.chunk, self.batch, self.stats
        if processor.columns is None:
            spec = all_columns(self.db.open(), spec)
            columns = spec.columns
        else:
            columns = tuple(dict.fromkeys([*spec.keys, *processor.columns]))
        if isinstance(chunk, KeyChunk):
            self._key_rows(processor, spec, chunk, columns)
            return
        sql = render("common/keyset_batch", **spec.parts(columns=spec.column_sql(columns)))
        upto = render("common/batch_count", **spec.parts(upper=Fragment("<=")))
        tail = render("common/batch_count", **spec.parts(upper=Fragment("<")))
        _, where_params = spec.where()
        last = int(self.position.get("after", chunk.lo - 1))
        while True:
            size = batch.size
            t0 = time.monotonic()
            rows = self._id_batch((sql, upto, tail), last, chunk.hi, where_params, size)
            batch.observe(len(rows), time.monotonic() - t0)
            if not rows:
                break
            processor.process(rows, columns)
            last = rows[-1][0]
            stats.rows += len(rows)
            stats.batches += 1
            stop = self.stops_at(last + 1) if len(rows) == size else None
            self.commit(stop or {"after": last, "size": batch.size}, processor)
            self.progress.update(stats.rows, last, batch.size)
            if len(rows) < size or stop:
                break

    def aggregate(self, processor: AggregateByKey) -> None:
        """Pushed-down (group, sum, count) per keyset sub-range: one row per group crosses the wire."""
        spec, chunk, batch = self.spec, self.chunk, self.batch
        if isinstance(chunk, KeyChunk):
            self._key_aggregate(processor, chunk)
            return
        rollup = self.rolls_up(processor)
        exact = aggregate_queries(spec, processor, rollup=rollup)
        # A range of at most `limit` keys holds at most `limit` rows (the key is unique): summed in a
        # DOUBLE, 6% less server time than MariaDB's DECIMAL sum of an INT column, and exactly the same.
        limit = 0 if isinstance(processor, SqlFileAggregate) else spec.double_exact_rows(processor.value)
        fast = aggregate_queries(spec, processor, rollup=rollup, in_double=True) if limit else exact
        _, where_params = spec.where()
        if chunk.whole_table and chunk.rows is not None and chunk.rows <= batch.size:
            # a whole table that fits one batch: one query, no key predicate to evaluate on every row
            in_double = chunk.hi - chunk.lo <= limit
            whole_sql, whole_params = (fast if in_double else exact)[:2]
            rows_sql = render("common/row_count", table=spec.table_sql(), where=spec.where()[0])
            whole = ROLLUP_COUNT if rollup else (rows_sql, where_params)
            self._groups(
                processor, (whole_sql, whole_params), chunk.hi, time.monotonic(), whole, limit if in_double else 0
            )
            self.commit({"end": True}, processor)
            return
        count_sql = render("common/range_count", **spec.parts())
        cur = int(self.position.get("from", chunk.lo))
        span = int(self.position.get("span", 0)) or _first_span(chunk, batch.size)
        while cur < chunk.hi:
            t0 = time.monotonic()
            nxt = min(chunk.hi, cur + span)
            in_double = nxt - cur <= limit
            _, _, range_sql, range_params = fast if in_double else exact
            counting = ROLLUP_COUNT if rollup else (count_sql, (cur, nxt, *where_params))
            n = self._groups(
                processor, (range_sql, range_params(cur, nxt)), nxt, t0, counting, limit if in_double else 0
            )
            # the next span from the rows per key just seen (x4 across a gap), for the batch's new size
            span = max(1, int((nxt - cur) * min(4.0, batch.size / n))) if n else min(4 * span, 1 << 64)
            cur = nxt
            stop = self.stops_at(cur)
            self.commit(stop or self._next(cur, span, chunk.hi), processor)
            if stop:
                return

    def arrow(self, processor: ArrowProcessor) -> None:
        """Key sub-ranges read into Arrow tables, each handed to `process_arrow`, sized from the rows
        per key seen (as the pushed-down sub-ranges).

        Numeric columns are read by a prepared statement whose binary rows are arrays already
        (bulkscan.mysqldb.binary_ranges), counted by the server in the same statement. Any other
        column, or a NULL, is read by ConnectorX (bulkscan.mysqldb.arrow) on a connection of its own and
        checked against a COUNT(*) on bulkscan's connection taken straight after; a sub-range written
        to between the two is read again. The chunk's `range_rows` is the sum of the counts."""
        spec, chunk, batch, stats = self.spec, self.chunk, self.batch, self.stats
        refuse_tuple_key(spec)
        if isinstance(chunk, KeyChunk) or self.arrow_uri is None:
            raise BulkscanInputError("Arrow batches need an integer-key chunk and the server's ConnectorX URI")
        keys = spec.keys if processor.with_key or not processor.columns else ()
        columns = tuple(dict.fromkeys([*keys, *(processor.columns or ())]))
        readers = ArrowReaders(self.arrow_uri, spec, columns, self.db)
        cur = int(self.position.get("from", chunk.lo))
        span = int(self.position.get("span", 0)) or _first_span(chunk, batch.size)
        with closing(readers):
            while cur < chunk.hi:
                nxt = min(chunk.hi, cur + span)
                t0 = time.monotonic()
                table, expected = readers.read((cur, nxt))
                n = table.num_rows
                batch.observe(max(n, 1), time.monotonic() - t0)
                processor.process_arrow(table)
                if self.counted is not None:
                    self.counted += expected
                stats.rows += n
                stats.batches += 1
                span = max(1, int((nxt - cur) * min(4.0, batch.size / n))) if n else min(4 * span, 1 << 64)
                cur = nxt
                stop = self.stops_at(cur)
                self.commit(stop or self._next(cur, span, chunk.hi), processor)
                self.progress.update(stats.rows, cur, batch.size)
                if stop:
                    return

    def _id_batch(
        self, sqls: tuple[str, str, str], after: int, hi: int, where_params: tuple[Any, ...], size: int
    ) -> Sequence[Row]:
        """A keyset batch of an integer key, counted over (after, its last key], or to the chunk's end
        when it is the chunk's last batch (fewer rows than asked for)."""
        sql, upto, tail = sqls

        def count(got: Sequence[Row]) -> tuple[str, Any]:
            if len(got) == size:
                return upto, (after, got[-1][0], *where_params)
            return tail, (after, hi, *where_params)

        return self._counted((sql, (after, hi, *where_params, size)), count)


def _first_span(chunk: Chunk, size: int) -> int:
    """The key span of a chunk's first pushed-down sub-range: `size` rows at the chunk's planned density
    (all of it when its rows are unknown or fit one batch). Later spans follow the rows seen."""
    width = chunk.hi - chunk.lo
    if not chunk.rows or chunk.rows <= size:
        return width
    return max(1, width * size // chunk.rows)
