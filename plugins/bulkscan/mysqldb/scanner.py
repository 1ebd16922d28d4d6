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
long chunk. The running count is checkpointed with the batches, so a resumed try keeps it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

from bulkscan.core.batching import AdaptiveBatch
from bulkscan.core.chunks import Chunk
from bulkscan.core.dbapi import ConnectFactory, Connection, Cursor, Row
from bulkscan.core.keys import Key, KeyChunk, compare_params, compare_sql, key_select
from bulkscan.core.processors import AggregateByKey, ArrowProcessor, ChunkContext, Processor, SqlFileAggregate
from bulkscan.core.sqlfiles import Fragment, raw, render
from bulkscan.errors import BulkscanInputError
from bulkscan.mysqldb.arrow import ArrowRanges
from bulkscan.mysqldb.connect import close_quietly, is_disconnect
from bulkscan.mysqldb.source import TableSpec, all_columns

if TYPE_CHECKING:
    from bulkscan.mysqldb.checkpoint import ChunkCheckpoint

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class ChunkStats:
    rows: int = 0
    batches: int = 0
    seconds: float = 0.0
    reconnects: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    range_rows: int | None = None  # the sum of the batches' own COUNT(*)s (count_range); None: not counted
    # where the scan stopped short of the chunk's end (`ScanOptions.stop_after`): [rest_from, hi) is unread
    rest_from: int | None = None


@dataclass(frozen=True)
class ScanOptions:
    """How a chunk scan reports, how hard it tries to reconnect, and where it checkpoints its batches
    (`checkpoint`: a new try resumes after the last committed batch; None: a try starts over), and
    whether to count every batch's key range in the batch's own snapshot (`count_range`, for a reconcile)."""

    logger: logging.Logger = log
    progress_every: float = 5.0
    max_reconnects: int = 8
    checkpoint: ChunkCheckpoint | None = None
    count_range: bool = False
    arrow_uri: str | None = None  # ConnectorX's URI of the same server, for an "arrow" processor
    # an integer-key chunk that has read this many rows and still has keys left stops at the end of that
    # batch (ChunkStats.rest_from): a chunk far above its planned size is split at scan time (table_scan)
    stop_after: int | None = None


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


class _Progress:
    def __init__(self, chunk: Chunk | KeyChunk, logger: logging.Logger, every: float):
        self.chunk, self.log, self.every = chunk, logger, every
        self.start = self.last_log = time.monotonic()

    def update(self, rows: int, position: int, batch: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_log < self.every:
            return
        self.last_log = now
        c = self.chunk
        if c.rows or isinstance(c, KeyChunk):
            pct = 100.0 * rows / max(c.rows or 0, 1)
        else:
            pct = 100.0 * (position - c.lo) / max(1, c.hi - c.lo)
        rate = rows / max(now - self.start, 1e-6)
        self.log.info(
            "chunk %d (%s): %s rows done, %.1f%% of range, %s rows/s, batch %s",
            c.index,
            c.label,
            f"{rows:,}",
            min(pct, 100.0),
            f"{rate:,.0f}",
            f"{batch:,}",
        )


def pushdown_batch(target_seconds: float = 0.5) -> AdaptiveBatch:
    """Pushed-down sub-ranges return one row per group, not the rows, so they may span far more rows."""
    return AdaptiveBatch(
        size=1_000_000, target_seconds=target_seconds, minimum=1_000, maximum=5_000_000, max_growth=4.0
    )


def arrow_batch(target_seconds: float = 0.5) -> AdaptiveBatch:
    """Arrow sub-ranges: each is one ConnectorX read (a connection of its own), so they start big; an
    Arrow table of a million rows of a few numeric columns is tens of MB, the bound on memory."""
    return AdaptiveBatch(size=250_000, target_seconds=target_seconds, minimum=1_000, maximum=1_000_000, max_growth=4.0)


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
        scan.resume(processor)
        if scan.position.get("end"):
            pass  # the try that died had committed every batch: nothing is left to read
        elif isinstance(processor, ArrowProcessor):
            scan.arrow(processor)
        elif isinstance(processor, AggregateByKey) and pushdown:
            scan.aggregate(processor)
        else:
            scan.rows(processor)
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


def aggregate_queries(spec: TableSpec, processor: AggregateByKey) -> tuple[str, Any, str, Callable[[int, int], Any]]:
    """(whole-table SQL, its parameters, key-range SQL, parameters for a range) of a pushed-down aggregate.

    The built-in aggregate renders table_aggregate.sql / range_aggregate.sql with the spec's filters;
    a user query file gets the quoted table and the key range, with its own named parameters bound.
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
    parts = spec.parts(group_expr=group, value=spec.column_sql([processor.value]), hint=hint)
    _, where_params = spec.where()
    return (
        render("common/table_aggregate", **parts),
        where_params,
        render("common/range_aggregate", **parts),
        lambda lo, hi: (lo, hi, *where_params),
    )


class _ChunkScan:
    """One chunk's scan state: the resilient connection, the adaptive batch, the counters."""

    def __init__(
        self,
        connect: ConnectFactory,
        spec: TableSpec,
        chunk: Chunk | KeyChunk,
        batch: AdaptiveBatch,
        options: ScanOptions | None,
    ) -> None:
        opts = options or ScanOptions()
        self.spec, self.chunk, self.batch = spec, chunk, batch
        self.db = ResilientConnection(connect, opts.max_reconnects, opts.logger)
        self.progress = _Progress(chunk, opts.logger, opts.progress_every)
        self.stats = ChunkStats()
        self.checkpoint = opts.checkpoint
        self.arrow_uri = opts.arrow_uri
        self.counting = opts.count_range
        self.stop_after = opts.stop_after if isinstance(chunk, Chunk) else None
        # the sum of the batches' own counts so far (checkpointed with them); None: not counted, or a
        # resumed try whose checkpoint has no count
        self.counted: int | None = 0 if opts.count_range else None
        # where a resumed try starts ({"after": key} | {"from": key} | {"end": True}) and the size of the
        # batch that was in flight, so the replayed batch is exactly the one the dead try had
        self.position: dict[str, Any] = {}

    def resume(self, processor: Processor) -> None:
        """Take up an unfinished earlier try's checkpoint (its first batch then may be a replay)."""
        found = self.checkpoint.start() if self.checkpoint is not None else None
        if found is not None:
            self.position = found.position
            if found.position.get("rest") is not None:  # the try that died had already stopped short
                self.stats.rest_from = int(found.position["rest"])
            counted = found.position.get("counted")
            self.counted = int(counted) if self.counting and counted is not None else None
            self.stats.rows, self.stats.batches = found.rows, found.batches
            processor.replay = True
            if "size" in found.position:  # the batch the dead try had in flight, read again as it was
                b = self.batch
                b.size = max(b.minimum, min(b.maximum, int(found.position["size"])))

    def commit(self, position: dict[str, Any], processor: Processor) -> None:
        """Checkpoint a finished batch (its effects and the new position, in one transaction)."""
        if self.counted is not None:
            position = {**position, "counted": self.counted}
        if self.checkpoint is not None:
            self.checkpoint.commit(position, self.stats.rows, self.stats.batches, processor)
        elif isinstance(processor, AggregateByKey):
            processor.take_pending()  # no checkpoints: the chunk's sums are written whole at its end
        processor.replay = False

    def stops_at(self, nxt: int) -> dict[str, Any] | None:
        """The final position when the chunk has read `stop_after` rows and keys from `nxt` on are left:
        the batch just read is the chunk's last, [nxt, hi) its rest."""
        chunk = self.chunk
        if self.stop_after is None or self.stats.rows < self.stop_after or not isinstance(chunk, Chunk):
            return None
        if nxt >= chunk.hi:
            return None
        self.stats.rest_from = nxt
        return {"end": True, "rest": nxt}

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

    def _key_rows(self, processor: Processor, spec: TableSpec, chunk: KeyChunk, columns: tuple[str, ...]) -> None:
        """Keyset batches of a composite or string key: `key > last done` compared by the server."""
        batch, stats, n = self.batch, self.stats, len(spec.keys)
        _, order = key_select(spec.keys)
        where, where_params = spec.where()
        done: Key | None = tuple(self.position["after"]) if "after" in self.position else None
        while True:
            rng, rng_params = chunk.where() if done is None else chunk.after(done)
            sql = render(
                "common/key_batch",
                columns=spec.column_sql(columns),
                table=spec.table_sql(),
                range=Fragment(rng),
                where=where,
                order=order,
            )
            size = batch.size
            t0 = time.monotonic()
            rows = self._key_batch(sql, (rng, rng_params), (where, where_params), size)
            batch.observe(len(rows), time.monotonic() - t0)
            if not rows:
                break
            processor.process(rows, columns)
            done = tuple(rows[-1][:n])
            stats.rows += len(rows)
            stats.batches += 1
            self.commit({"after": list(done), "size": batch.size}, processor)
            self.progress.update(stats.rows, 0, batch.size)
            if len(rows) < size:
                break

    def _key_aggregate(self, processor: AggregateByKey, chunk: KeyChunk) -> None:
        """Pushed-down groups per sub-range of a tuple-key chunk, sub-ranges found by walking its index."""
        spec, batch = self.spec, self.batch
        keys, order = key_select(spec.keys)
        where, where_params = spec.where()
        group = Fragment(spec.column_sql([processor.group]) if processor.group else "NULL")
        upper, upper_params = chunk.upper()
        walk_sql = render(
            "common/key_walk",
            keys=keys,
            table=spec.table_sql(),
            range=Fragment(f"{compare_sql(spec.keys, '>=')} AND {upper}"),
            where=where,
            order=order,
        )
        cur: Key = tuple(self.position["from"]) if "from" in self.position else chunk.lo
        while True:
            t0 = time.monotonic()
            step = None
            if not (cur == chunk.lo and chunk.rows is not None and chunk.rows <= batch.size):
                found = self.db.query(walk_sql, (*compare_params(cur), *upper_params, *where_params, batch.size - 1))
                step = (tuple(found[0]), tuple(found[1])) if len(found) == 2 else None
            sub = KeyChunk(chunk.index, chunk.columns, cur, step[1], step[0]) if step else replace(chunk, lo=cur)
            rng, rng_params = sub.where()
            sql = render(
                "common/key_range_aggregate",
                group_expr=group,
                value=spec.column_sql([processor.value]),
                table=spec.table_sql(),
                range=Fragment(rng),
                where=where,
            )
            count_sql = render("common/key_range_count", table=spec.table_sql(), range=Fragment(rng), where=where)
            params = (*rng_params, *where_params)
            self._groups(processor, (sql, params), 0, t0, (count_sql, params))
            if step is None:
                self.commit({"end": True}, processor)
                return
            cur = step[1]
            self.commit({"from": list(cur), "size": batch.size}, processor)

    def aggregate(self, processor: AggregateByKey) -> None:
        """Pushed-down (group, sum, count) per keyset sub-range: one row per group crosses the wire."""
        spec, chunk, batch = self.spec, self.chunk, self.batch
        if isinstance(chunk, KeyChunk):
            self._key_aggregate(processor, chunk)
            return
        whole_sql, whole_params, range_sql, range_params = aggregate_queries(spec, processor)
        if chunk.whole_table and chunk.rows is not None and chunk.rows <= batch.size:
            # a whole table that fits one batch: one query, no key predicate to evaluate on every row
            rows_sql = render("common/row_count", table=spec.table_sql(), where=spec.where()[0])
            self._groups(processor, (whole_sql, whole_params), chunk.hi, time.monotonic(), (rows_sql, spec.where()[1]))
            self.commit({"end": True}, processor)
            return
        count_sql = render("common/range_count", **spec.parts())
        _, where_params = spec.where()
        cur = int(self.position.get("from", chunk.lo))
        span = int(self.position.get("span", 0)) or _first_span(chunk, batch.size)
        while cur < chunk.hi:
            t0 = time.monotonic()
            nxt = min(chunk.hi, cur + span)
            counting = (count_sql, (cur, nxt, *where_params))
            n = self._groups(processor, (range_sql, range_params(cur, nxt)), nxt, t0, counting)
            # the next span from the rows per key just seen (x4 across a gap), for the batch's new size
            span = max(1, int((nxt - cur) * min(4.0, batch.size / n))) if n else min(4 * span, 1 << 64)
            cur = nxt
            stop = self.stops_at(cur)
            self.commit(stop or self._next(cur, span, chunk.hi), processor)
            if stop:
                return

    def arrow(self, processor: ArrowProcessor) -> None:
        """Key sub-ranges read by ConnectorX into Arrow tables (bulkscan.mysqldb.arrow), each handed to
        `process_arrow`, sized from the rows per key seen (as the pushed-down sub-ranges). Each
        sub-range's rows are checked against a COUNT(*) of it on bulkscan's own connection, taken straight
        after the read (ConnectorX reads on connections of its own); a sub-range written to between the
        two is read again, so the chunk's `range_rows` is the sum of counts that matched."""
        spec, chunk, batch, stats = self.spec, self.chunk, self.batch, self.stats
        if isinstance(chunk, KeyChunk) or self.arrow_uri is None:
            raise BulkscanInputError("Arrow batches need an integer key and the server's ConnectorX URI")
        columns = tuple(dict.fromkeys([*spec.keys, *(processor.columns or ())]))
        reader = ArrowRanges(self.arrow_uri, spec, columns, self.db)
        _, where_params = spec.where()
        count_sql = render("common/range_count", **spec.parts())
        cur = int(self.position.get("from", chunk.lo))
        span = int(self.position.get("span", 0)) or _first_span(chunk, batch.size)
        while cur < chunk.hi:
            nxt = min(chunk.hi, cur + span)
            t0 = time.monotonic()
            table, expected = self._arrow_range(reader, (count_sql, where_params), (cur, nxt))
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

    def _next(self, cur: int, span: int, hi: int) -> dict[str, Any]:
        """The position after a sub-range ending at `cur`: where the next one starts, or the chunk's end."""
        return {"from": cur, "size": self.batch.size, "span": span} if cur < hi else {"end": True}

    def _arrow_range(
        self, reader: ArrowRanges, count: tuple[str, tuple[Any, ...]], bounds: tuple[int, int]
    ) -> tuple[Any, int]:
        """One sub-range through ConnectorX and its COUNT(*), the pair read again (up to three times in
        all) while a writer makes them differ."""
        count_sql, where_params = count
        for attempt in range(1, 4):
            table = reader.read(*bounds)
            expected = int(self.db.query(count_sql, (bounds[0], bounds[1], *where_params))[0][0])
            if expected == table.num_rows or attempt == 3:
                return table, expected
            self.db.log.warning(
                "sub-range %s changed while it was read (%d rows, count %d): reading it again",
                bounds,
                table.num_rows,
                expected,
            )
        raise AssertionError("unreachable")

    def _counted(self, query: tuple[str, Any], count: Callable[[Sequence[Row]], tuple[str, Any]]) -> Sequence[Row]:
        """One batch's rows; when counting, read with the COUNT(*) of its key range (`count(rows)` gives
        that statement) in one snapshot of their own, and the count added to the chunk's."""
        if self.counted is None:
            return self.db.query(*query)

        def read(cur: Cursor) -> tuple[Sequence[Row], int]:
            cur.execute(*query)
            got = cur.fetchall()
            cur.execute(*count(got))
            found = cur.fetchone()
            return got, int(found[0]) if found else 0

        rows, counted = self.db.in_snapshot(read)
        self.counted += counted
        return rows

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

    def _key_batch(
        self, sql: str, rng: tuple[str, tuple[Any, ...]], where: tuple[Fragment, tuple[Any, ...]], size: int
    ) -> Sequence[Row]:
        """A keyset batch of a composite or string key, counted like `_id_batch` with tuple comparisons."""
        spec, n = self.spec, len(self.spec.keys)

        def count(got: Sequence[Row]) -> tuple[str, Any]:
            counted, params = rng
            if len(got) == size:  # up to the batch's last key
                counted = f"{counted} AND {compare_sql(spec.keys, '<=')}"
                params = (*params, *compare_params(tuple(got[-1][:n])))
            sql_count = render(
                "common/key_range_count", table=spec.table_sql(), range=Fragment(counted), where=where[0]
            )
            return sql_count, (*params, *where[1])

        return self._counted((sql, (*rng[1], *where[1], size)), count)

    def _groups(
        self,
        processor: AggregateByKey,
        query: tuple[str, Any],
        position: int,
        t0: float,
        count: tuple[str, Any] | None = None,
    ) -> int:
        groups = self.db.query(*query) if count is None else self._counted(query, lambda _: count)
        processor.add_groups(groups)  # (group, sum, count) rows; a query file's are checked
        n = sum(int(g[2]) for g in groups)
        self.batch.observe(max(n, 1), time.monotonic() - t0)
        self.stats.rows += n
        self.stats.batches += 1
        self.progress.update(self.stats.rows, position, self.batch.size)
        return n


def _first_span(chunk: Chunk, size: int) -> int:
    """The key span of a chunk's first pushed-down sub-range: `size` rows at the chunk's planned density
    (all of it when its rows are unknown or fit one batch). Later spans follow the rows seen."""
    width = chunk.hi - chunk.lo
    if not chunk.rows or chunk.rows <= size:
        return width
    return max(1, width * size // chunk.rows)
