"""One chunk scan's state, shared by its loops (bulkscan.mysqldb.scanner, .keyscan): the resilient
connection, the adaptive batch, the counters, the checkpointed position and the running COUNT(*).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bulkscan.core.batching import AdaptiveBatch
from bulkscan.core.chunks import Chunk
from bulkscan.core.dbapi import ConnectFactory, Cursor, Row
from bulkscan.core.keys import KeyChunk
from bulkscan.core.processors import AggregateByKey, Processor, SqlFileAggregate
from bulkscan.core.sqlfiles import Fragment
from bulkscan.errors import BulkscanError
from bulkscan.mysqldb.resilient import ResilientConnection
from bulkscan.mysqldb.source import TableSpec

if TYPE_CHECKING:
    from bulkscan.mysqldb.checkpoint import ChunkCheckpoint

log = logging.getLogger(__name__)

# A pushed-down aggregate counted in its own pass: `GROUP BY ... WITH ROLLUP` adds one last row, the
# super-aggregate, whose COUNT(*) the server accumulates apart from the group rows. Summing the group
# rows the scan hands to the processor is its own count (ChunkStats.rows); the rollup row is the range's
# count (range_rows). A group row lost or doubled between the server and the scan is caught (what a
# processor then does with the groups is its own); the range is read once. The
# separate COUNT(*) statement it replaces cost 44% of the aggregate's own server time (docs/table-scan.md).
ROLLUP_COUNT: Literal["rollup"] = "rollup"


def grouping_sql(rollup: bool) -> Fragment:
    """The {grouping} of the aggregate templates: WITH ROLLUP when the sub-range counts itself, else
    ORDER BY NULL (the groups unsorted)."""
    return Fragment("WITH ROLLUP" if rollup else "ORDER BY NULL")


def without_rollup(rows: Sequence[Row]) -> tuple[Sequence[Row], int]:
    """(the group rows, the rows counted) of a `(group, sum, count) ... WITH ROLLUP` result. The
    super-aggregate row comes last, its group NULL; an empty range has no rows at all."""
    if not rows:
        return rows, 0
    total = rows[-1]
    if total[0] is not None or len(total) != 3:
        raise BulkscanError(f"a WITH ROLLUP aggregate must end with its (NULL, sum, count) total row, got {total!r}")
    return rows[:-1], int(total[2])


@dataclass
class ChunkStats:
    rows: int = 0
    batches: int = 0
    seconds: float = 0.0
    reconnects: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    range_rows: int | None = None  # the sum of the batches' own counts (count_range); None: not counted
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
    # an aggregate's batches are checkpointed at most this often, and at the chunk's end: its partial sums
    # since the last checkpoint wait in memory (one entry per group, as the sums themselves do), and a new
    # try re-reads at most this many seconds of batches. A checkpoint writes every group the batches touched
    # (0.12-0.17 s for 10,000 groups), so one per 0.5 s batch cost a pushed-down scan more than its reads.
    # Other processors checkpoint after every batch: their effects (outbox rows) are per row.
    checkpoint_every_s: float = 10.0
    count_range: bool = False
    arrow_uri: str | None = None  # ConnectorX's URI of the same server, for an "arrow" processor
    # an integer-key chunk that has read this many rows and still has keys left stops at the end of that
    # batch (ChunkStats.rest_from): a chunk far above its planned size is split at scan time (table_scan)
    stop_after: int | None = None
    # after this many seconds a statement still running is ended on the server (KILL QUERY): the chunk's
    # time limit, a signal, cannot interrupt a call blocked in the client library (resilient.statement_deadline)
    statement_deadline_s: float | None = None
    # set by the caller to end the scan's statement at once (a shard task out of time while this scan runs
    # in a thread of its own: resilient.statement_deadline)
    abandon: threading.Event | None = None


class Progress:
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


class ScanState:
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
        self.progress = Progress(chunk, opts.logger, opts.progress_every)
        self.stats = ChunkStats()
        self.checkpoint = opts.checkpoint
        self.checkpoint_every_s = opts.checkpoint_every_s
        self.last_checkpoint = time.monotonic()
        self.deferred: dict[str, Any] | None = None  # a batch's position not checkpointed yet (flush)
        self.arrow_uri = opts.arrow_uri
        self.counting = opts.count_range
        self.deadline_s = opts.statement_deadline_s
        self.abandon = opts.abandon
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

    def rolls_up(self, processor: AggregateByKey) -> bool:
        """Whether a pushed-down aggregate counts its sub-ranges in the same pass (ROLLUP_COUNT): the
        built-in one when counting; a query file's SQL is the user's, so its ranges get a COUNT(*)."""
        return self.counted is not None and not isinstance(processor, SqlFileAggregate)

    def commit(self, position: dict[str, Any], processor: Processor) -> None:
        """Checkpoint a finished batch (its effects and the new position, in one transaction); an
        aggregate's only when `checkpoint_every_s` has passed since the last one or the chunk is done,
        else the position waits for the next (`flush` commits the last one)."""
        if self.counted is not None:
            position = {**position, "counted": self.counted}
        if self.checkpoint is not None:
            waits = isinstance(processor, AggregateByKey) and not position.get("end")
            if waits and time.monotonic() - self.last_checkpoint < self.checkpoint_every_s:
                self.deferred = position
            else:
                self._checkpoint(position, processor)
        elif isinstance(processor, AggregateByKey):
            processor.take_pending()  # no checkpoints: the chunk's sums are written whole at its end
        processor.replay = False

    def flush(self, processor: Processor) -> None:
        """Checkpoint the last batches if they are still waiting: before the chunk's outcome is stored,
        which reads the checkpointed sums."""
        if self.deferred is not None:
            self._checkpoint(self.deferred, processor)

    def _checkpoint(self, position: dict[str, Any], processor: Processor) -> None:
        assert self.checkpoint is not None
        self.checkpoint.commit(position, self.stats.rows, self.stats.batches, processor)
        self.deferred = None
        self.last_checkpoint = time.monotonic()

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

    def _next(self, cur: int, span: int, hi: int) -> dict[str, Any]:
        """The position after a sub-range ending at `cur`: where the next one starts, or the chunk's end."""
        return {"from": cur, "size": self.batch.size, "span": span} if cur < hi else {"end": True}

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

    def _groups(
        self,
        processor: AggregateByKey,
        query: tuple[str, Any],
        position: int,
        t0: float,
        count: tuple[str, Any] | Literal["rollup"] | None = None,
        double_rows: int = 0,
    ) -> int:
        """One pushed-down sub-range's (group, sum, count) rows into the processor; returns its rows.

        `count`: a COUNT(*) statement of the same sub-range, read with the groups in one snapshot;
        "rollup" (ROLLUP_COUNT): the query ends WITH ROLLUP and its last row is the server's count of the
        rows it grouped, taken in the same pass; None: not counted. `double_rows`: the sums came back as
        DOUBLEs (TableSpec.value_sql), exact over at most that many rows; they become ints here, so the
        chunk's totals keep adding exactly. A sub-range found holding more (a tuple-key range written to
        since its walk) fails before its sums are used; the retry walks it again."""
        if count == ROLLUP_COUNT:
            groups, total = without_rollup(self.db.query(*query))
            if self.counted is not None:
                self.counted += total
        elif count is None:
            groups = self.db.query(*query)
        else:
            statement = count
            groups = self._counted(query, lambda _: statement)
        n = sum(int(g[2]) for g in groups)
        if double_rows:
            if n > double_rows:
                raise BulkscanError(
                    f"a sub-range summed as DOUBLE holds {n:,} rows, more than the {double_rows:,} it is exact for"
                )
            groups = [(g, None if v is None else int(v), c) for g, v, c in groups]
        processor.add_groups(groups)  # (group, sum, count) rows; a query file's are checked
        self.batch.observe(max(n, 1), time.monotonic() - t0)
        self.stats.rows += n
        self.stats.batches += 1
        self.progress.update(self.stats.rows, position, self.batch.size)
        return n
