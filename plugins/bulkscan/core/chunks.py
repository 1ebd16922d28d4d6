"""Chunk planning: split an integer key space into half-open ranges of about equal row counts.

The planner is pure: it is given a `next_boundary(lo, n)` function that answers "the key of the
(n+1)-th row at or after `lo`" (a walk of the key index, as gh-ost and pt-table-checksum do), so
chunks hold the same number of rows however sparse the keys are. `even_stride` is the min/max
striding Spark and Sqoop use, kept only as the known-bad baseline the tests compare against.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any, NotRequired, Protocol, TypedDict

from bulkscan.core.values import positive_int
from bulkscan.errors import BulkscanInputError

NextBoundary = Callable[[int, int], "int | None"]
# Every signed or unsigned 64-bit integer key: a chunk over [KEY_MIN, KEY_END) is the whole table.
KEY_MIN, KEY_END = -(2**63), 2**64
Bound = int | str  # a bound as it travels in XCom: an int within int64, else its decimal text


def wire_bound(value: int) -> Bound:
    """A chunk bound for XCom. A task sends its XCom to its supervisor as msgpack, which refuses integers
    outside [-2**63, 2**64 - 1], and the half-open end of the last chunk of a BIGINT UNSIGNED key is
    2**64 (dag.test() runs in-process and never noticed). So a bound outside int64 goes as its decimal
    text; `Chunk.from_dict` reads both."""
    return value if -(2**63) <= value < 2**63 else str(value)


class ChunkPayload(TypedDict):
    """A chunk as it travels through XCom to its mapped task (`Chunk.payload`)."""

    index: int
    lo: Bound
    hi: Bound
    rows: int | None
    label: str
    run_key: NotRequired[str]
    day: NotRequired[str]
    hour: NotRequired[int]  # member scoring's hourly folds: the hour of the day (HourSlice.index)
    time_limit_s: NotRequired[int]  # the chunk's own time limit (chunk_time_limit)


class StoredChunk(Protocol):
    """What bulkscan_chunk records of a chunk of any key: integer bounds, or JSON bounds of a tuple key."""

    @property
    def index(self) -> int: ...
    @property
    def rows(self) -> int | None: ...
    @property
    def label(self) -> str: ...
    def stored_bounds(self) -> tuple[int | None, int | None, str | None, str | None]:
        """(lo, hi, lo_key, hi_key): integer bounds in DECIMAL(20,0) columns, or tuple bounds as JSON text."""
        ...


@dataclass(frozen=True)
class Chunk:
    """Rows with `lo <= key < hi`. `rows` is the planned row count (None when unknown)."""

    index: int
    lo: int
    hi: int
    rows: int | None = None

    @property
    def label(self) -> str:
        """What the Airflow UI shows for the mapped task: 'ids 1-1,250,000'."""
        return f"ids {self.lo:,}-{self.hi - 1:,}"

    @property
    def whole_table(self) -> bool:
        """True when the range holds every integer key: no key predicate is needed to read it."""
        return self.lo <= KEY_MIN and self.hi >= KEY_END

    def as_dict(self) -> dict[str, Any]:
        """The chunk for XCom (bounds by `wire_bound`); `from_dict` reads it back."""
        return {**asdict(self), "lo": wire_bound(self.lo), "hi": wire_bound(self.hi)}

    def stored_bounds(self) -> tuple[int | None, int | None, str | None, str | None]:
        return self.lo, self.hi, None, None

    def payload(self, label: str | None = None) -> ChunkPayload:
        """The mapped task's input: the chunk and the label the Grid shows for it."""
        return ChunkPayload(
            index=self.index, lo=wire_bound(self.lo), hi=wire_bound(self.hi), rows=self.rows, label=label or self.label
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Chunk:
        return cls(int(data["index"]), int(data["lo"]), int(data["hi"]), data.get("rows"))


def check_sizes(rows_per_chunk: object, max_chunks: object) -> tuple[int, int]:
    """Validate the two sizes a plan takes; bad values are input errors, raised before any query."""
    return positive_int(rows_per_chunk, "rows per chunk"), positive_int(max_chunks, "maximum chunk count")


def fitted_rows_per_chunk(total: int, rows_per_chunk: int, max_chunks: int) -> int:
    """`rows_per_chunk`, raised just enough that `total` rows fit in `max_chunks` chunks."""
    if total <= 0:
        return rows_per_chunk
    return max(rows_per_chunk, math.ceil(total / max_chunks))


def plan_boundaries(
    next_boundary: NextBoundary,
    first: int,
    last: int,
    total: int | None,
    rows_per_chunk: int,
    max_chunks: int,
) -> list[Chunk]:
    """Chunks covering [first, last] with `rows_per_chunk` rows each (the last one holds the rest).

    `next_boundary(lo, n)` returns the key of the (n+1)-th row with key >= lo, or None when fewer
    rows remain. One call per chunk, so planning costs one pass over the key index. With `total`
    unknown (None) the walk itself finds the end: chunks hold `rows_per_chunk` each, the last one takes
    whatever remains once `max_chunks` is reached, and its row count is left None for the caller.
    """
    return list(iter_boundaries(next_boundary, first, last, total, rows_per_chunk, max_chunks))


def iter_boundaries(
    next_boundary: NextBoundary,
    first: int,
    last: int,
    total: int | None,
    rows_per_chunk: int,
    max_chunks: int,
) -> Iterator[Chunk]:
    """`plan_boundaries` as a generator: each chunk as soon as its end is known, so scanning can start
    while the walk goes on."""
    rows_per_chunk, max_chunks = check_sizes(rows_per_chunk, max_chunks)
    if total is not None and total <= 0:
        return
    if total is not None:
        rows_per_chunk = fitted_rows_per_chunk(total, rows_per_chunk, max_chunks)
    lo, done, index = first, 0, 0
    while True:
        if total is None:
            nxt = None if index == max_chunks - 1 else next_boundary(lo, rows_per_chunk)
        else:
            nxt = None if total - done <= rows_per_chunk else next_boundary(lo, rows_per_chunk)
        if nxt is None:
            yield Chunk(index, lo, last + 1, None if total is None else total - done)
            return
        if nxt <= lo:
            raise ValueError(f"key index walk went backwards: {nxt} after {lo}")
        yield Chunk(index, lo, nxt, rows_per_chunk)
        lo, done, index = nxt, done + rows_per_chunk, index + 1


def split_by_estimate(
    next_boundary: NextBoundary,
    first: int,
    last: int,
    estimate: int,
    rows_per_chunk: int,
    max_chunks: int,
) -> list[Chunk]:
    """About `estimate / rows_per_chunk` chunks of near-equal rows, walking only their inner boundaries.

    For work that needs balance, not exact sizes (a pushed-down aggregate over a big shard): no
    COUNT(*), and the walk stops at the last boundary instead of reading on to the end of the table,
    so a table split in n costs (n-1)/n of one index pass. Chunk rows are the plan's figures (the last
    chunk's from the estimate); the chunks still tile [first, last] exactly, gaps and all. If the walk
    runs out of rows early (the estimate was high), the chunk it was in takes the rest.
    """
    rows_per_chunk, max_chunks = check_sizes(rows_per_chunk, max_chunks)
    chunk_count = min(max_chunks, max(1, round(max(estimate, 0) / rows_per_chunk)))
    balanced = max(1, math.ceil(max(estimate, 0) / chunk_count))  # rows per chunk, evened out
    chunks: list[Chunk] = []
    lo = first
    for index in range(chunk_count - 1):
        nxt = next_boundary(lo, balanced)
        if nxt is None:
            break
        if nxt <= lo:
            raise ValueError(f"key index walk went backwards: {nxt} after {lo}")
        chunks.append(Chunk(index, lo, nxt, balanced))
        lo = nxt
    chunks.append(Chunk(len(chunks), lo, last + 1, max(0, estimate - balanced * len(chunks))))
    return chunks


# A chunk that turns out to hold more than this many times its planned rows (or the target, when more)
# is split at scan time: it stops after that many and its rest is walked into chunks of its own. An
# estimated plan is off by a few percent on a table whose statistics are fresh; a chunk of twice its size
# means the estimate was wrong (stale statistics, a bulk load into one range after planning).
OVERSIZE = 2


def oversize_limit(planned_rows: int | None, rows_per_chunk: int) -> int:
    """The rows after which a chunk stops and hands the rest of its range on (`OVERSIZE`)."""
    return OVERSIZE * max(planned_rows or 0, rows_per_chunk)


# A chunk's time limit, derived from its plan: this many times its planned rows at the slowest rate
# (seconds per row) of any chunk of the table's last run. Ten times leaves room for a cold cache and a
# busy server; a chunk that still runs past it is stuck (a lock, a hung connection) and is better ended
# and retried from its checkpoint than left holding its slot for the task's whole execution_timeout.
TIME_LIMIT_FACTOR = 10


def time_limit_bound_s(params: Mapping[str, Any]) -> int:
    """The form's bound on a mapped piece's own time limit (the *Chunk time limit (minutes)* Param,
    `chunk_time_limit_minutes`, 120 when empty), in seconds."""
    return 60 * positive_int(params.get("chunk_time_limit_minutes") or 120, "chunk time limit")


def chunk_time_limit(planned_rows: int | None, slowest_s_per_row: float | None, bound_s: int, floor_s: int) -> int:
    """Seconds a chunk may run: `TIME_LIMIT_FACTOR` x its planned rows at the last run's slowest rate,
    at least `floor_s`, at most `bound_s` (the form's limit); `bound_s` when there is nothing to derive
    it from (no earlier run, or rows unknown)."""
    if not planned_rows or not slowest_s_per_row or slowest_s_per_row <= 0:
        return bound_s
    derived = math.ceil(TIME_LIMIT_FACTOR * slowest_s_per_row * planned_rows)
    return max(1, min(bound_s, max(floor_s, derived)))


def renumbered(chunks: Iterable[Chunk], first_index: int) -> list[Chunk]:
    """`chunks` indexed on from `first_index` (the pieces of a split chunk follow the plan's chunks)."""
    return [Chunk(first_index + i, c.lo, c.hi, c.rows) for i, c in enumerate(chunks)]


def even_stride(first: int, last: int, count: int) -> list[Chunk]:
    """Min/max striding into `count` equal key spans (the naive plan; rows per chunk unknown)."""
    if count < 1:
        raise BulkscanInputError(f"chunk count must be positive, got {count}")
    span = last - first + 1
    step = max(1, math.ceil(span / count))
    return [Chunk(i, lo, min(lo + step, last + 1)) for i, lo in enumerate(range(first, last + 1, step))]


def assert_partition(chunks: Sequence[Chunk], first: int, last: int) -> None:
    """Chunks must tile [first, last] exactly: contiguous, non-empty, in order, indexed 0..n-1."""
    if not chunks:
        raise ValueError("no chunks")
    if chunks[0].lo != first or chunks[-1].hi != last + 1:
        raise ValueError(f"chunks cover [{chunks[0].lo}, {chunks[-1].hi}) not [{first}, {last + 1})")
    for i, (a, b) in enumerate(pairwise(chunks)):
        if a.hi != b.lo or a.lo >= a.hi or a.index != i:
            raise ValueError(f"chunks {a} and {b} do not tile")


def chunk_of(chunks: Iterable[Chunk], key_value: int) -> Chunk | None:
    """The chunk holding `key_value` (linear; for tests and diagnostics)."""
    for chunk in chunks:
        if chunk.lo <= key_value < chunk.hi:
            return chunk
    return None
