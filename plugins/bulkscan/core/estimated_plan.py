"""Chunk boundaries from the storage engine's range estimates: planning that does not read the table.

Walking the key index (`chunks.iter_boundaries`) reads every key once, so its cost grows with the
table: about 1.5 s of server CPU per 10M rows, minutes at 10^9. InnoDB answers "about how many rows
lie in [lo, hi)?" (`EXPLAIN`, its index dives: `records_in_range`) by descending the B-tree at both
ends, in microseconds whatever the range. Measured on bulkscan's bench tables, the answer is about
twice the real count for any range above a few pages, and steady to within ±5% from range to range;
tiny ranges are exact; and any range above half the table comes back capped at half the table.

So the planner here:
  1. calibrates: counts a small range exactly and takes estimate / real as the engine's ratio;
  2. estimates the table as a sum of leaves: ranges split at round keys until each is estimated below
     a few chunks (estimates of ranges of about a chunk's size agree with one another to a few percent;
     a range's ratio creeps up with its size, so one big estimate would not add up with small ones);
  3. puts boundary k where the leaves' running sum reaches k/n of their total, searching inside the
     one leaf that holds it (interpolated, bisecting where keys are sparse) to within `tolerance` of
     a chunk; n is what the total needs at `rows_per_chunk`, at most `max_chunks`.
Cost: a few estimates per chunk and per leaf, and the logarithm of the key span at the edges of sparse
key ranges; nothing per row. Three more small counts at chunk starts sharpen the reported rows.

The plan never depends on an estimate for correctness: the chunks tile [first, last + 1) exactly, so
every row is in exactly one chunk however wrong an estimate was; a wrong estimate only makes a chunk
bigger or smaller than its target. `Chunk.rows` is the calibrated estimate, not a count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

from bulkscan.core.chunks import Chunk, check_sizes

# How a plan finds an integer key's boundaries: from range estimates (this module), or by walking the
# key index (exact, one read of the index: bulkscan.core.chunks.iter_boundaries).
Planning = Literal["estimate", "walk"]
PLANNINGS: tuple[Planning, ...] = ("estimate", "walk")


class Ranges(Protocol):
    """A table's integer key as the planner sees it: its ends, the engine's row statistic, the engine's
    estimate of a key range, and an exact count of one (used on a few small ranges only)."""

    @property
    def first(self) -> int: ...
    @property
    def last(self) -> int: ...
    @property
    def table_rows(self) -> int:
        """information_schema.TABLES.TABLE_ROWS: sets the engine's half-table cap on estimates."""
        ...

    def estimate(self, lo: int, hi: int) -> int:
        """The engine's row estimate for [lo, hi) (InnoDB: EXPLAIN's rows); may be capped."""
        ...

    def count(self, lo: int, hi: int) -> int:
        """COUNT(*) of [lo, hi)."""
        ...


# Real rows per calibration range: a tenth of a chunk, at least 10,000 (InnoDB dives ranges of fewer
# than about ten pages exactly, a different ratio) and at most 50,000 (a few milliseconds of counting).
CALIBRATION_ROWS = (10_000, 50_000)
CALIBRATION_PROBES = 4
LEAF_CHUNKS = 2  # a leaf of the table's estimate holds at most about this many chunks
# Estimates one plan may ask for (about a second): far more means the engine's statistics are far
# off the table (TABLE_ROWS sets the half-table cap), and the caller walks the index instead.
MAX_ESTIMATES = 20_000


class TooManyEstimates(Exception):
    """The plan needed more than MAX_ESTIMATES estimates (stale statistics): walk instead."""


@dataclass(frozen=True)
class EstimatedPlan:
    chunks: list[Chunk]
    ratio: float  # the engine's estimate over the real count, as calibrated
    estimates: int  # estimate calls made (the planning cost)
    counted_rows: int  # rows counted exactly for the calibration


class _Estimator:
    """`estimate` with a cache, and split where it would be read too big: a range whose estimate reaches
    `cap` (at first the engine's half-table cap, then a few chunks) is split in two at its roundest key
    and summed. Round keys make the leaves of any range line up with those of the whole table."""

    def __init__(self, ranges: Ranges, cap: int):
        self.ranges, self.cap, self.calls = ranges, max(cap, 2), 0
        self.cache: dict[tuple[int, int], int] = {}

    def once(self, lo: int, hi: int) -> int:
        value = self.cache.get((lo, hi))
        if value is None:
            self.calls += 1
            if self.calls > MAX_ESTIMATES:
                raise TooManyEstimates(f"more than {MAX_ESTIMATES} range estimates")
            value = self.cache[(lo, hi)] = self.ranges.estimate(lo, hi)
        return value

    def __call__(self, lo: int, hi: int) -> int:
        return sum(v for _, _, v in self.leaves(lo, hi))

    def leaves(self, lo: int, hi: int) -> list[tuple[int, int, int]]:
        """(lo, hi, estimate) pieces tiling [lo, hi) in key order, each estimated below the cap."""
        out: list[tuple[int, int, int]] = []
        stack = [(lo, hi)]
        while stack:
            a, b = stack.pop()
            if b <= a:
                continue
            value = self.once(a, b)
            if value < self.cap or b - a < 2:
                out.append((a, b, value))
                continue
            mid = _roundest(a, b)
            stack += [(mid, b), (a, mid)]
        return out


def _roundest(lo: int, hi: int) -> int:
    """The key in (lo, hi) that is a multiple of the highest power of two (hi - lo >= 2)."""
    bit = 1 << ((hi - 1) ^ lo).bit_length()
    while bit > 1:
        bit >>= 1
        m = (hi - 1) // bit * bit
        if lo < m < hi:
            return m
    return lo + (hi - lo) // 2


def _find(est: _Estimator, lo: int, end: int, target: float, tolerance: float, span: int) -> tuple[int, int] | None:
    """The key x in (lo, end] whose estimate(lo, x) is within `tolerance` of `target` (or the closest
    the keys allow), with that estimate; None when all of [lo, end) is estimated below the target.

    The first probe is `span` keys on (the last chunk's span: neighbouring chunks have about the same
    density); then a secant through `lo` until the target is bracketed, then interpolation inside the
    bracket, bisecting after any probe that learnt nothing (it fell in a gap, or in a dense clump), so
    sparse keys cost a logarithm of the key span, not a crawl."""
    low_ok, high_ok = target * (1 - tolerance), target * (1 + tolerance)
    a, ea = lo, 0
    b: int | None = None
    eb = 0
    x, bisect = min(end, lo + max(1, span)), False
    while True:
        ex = est(lo, x)
        if low_ok <= ex <= high_ok:
            return x, ex
        if ex < target:
            if x >= end:
                return None
            learnt = ex != ea
            a, ea = x, ex
        else:
            learnt = ex != eb
            b, eb = x, ex
        if b is None:  # not bracketed yet: grow along the secant through lo (x4 across a gap)
            grow = 4.0 if ex <= 0 else min(16.0, max(1.05, target / ex))
            x = min(end, lo + max(x - lo + 1, math.ceil((x - lo) * grow)))
            continue
        if b - a <= 1:
            return b, eb
        frac = 0.5 if bisect else min(0.9, max(0.1, (target - ea) / max(eb - ea, 1)))
        bisect = not bisect and (not learnt or frac in (0.1, 0.9))
        x = min(b - 1, max(a + 1, a + int((b - a) * frac)))


def plan_by_estimate(ranges: Ranges, rows_per_chunk: int, max_chunks: int, *, tolerance: float = 0.03) -> EstimatedPlan:
    """Near-equal chunks of about `rows_per_chunk` real rows over the keys [ranges.first, ranges.last],
    at most `max_chunks` of them."""
    rows_per_chunk, max_chunks = check_sizes(rows_per_chunk, max_chunks)
    first, end = ranges.first, ranges.last + 1
    table_rows = max(ranges.table_rows, 1)
    est = _Estimator(ranges, table_rows // 2 * 9 // 10)
    counted: list[tuple[int, int]] = []  # (estimated, real) of the calibration ranges
    probe = min(CALIBRATION_ROWS[1], max(CALIBRATION_ROWS[0], rows_per_chunk // 10))
    _probe(est, first, end, probe, 1 + (end - first) // table_rows * probe, counted)
    ratio = _ratio(counted)
    est.cap = min(est.cap, max(2, int(LEAF_CHUNKS * ratio * max(rows_per_chunk, table_rows // max_chunks))))
    leaves = est.leaves(first, end)
    total = sum(v for _, _, v in leaves)
    wanted = min(max_chunks, max(1, round(total / (rows_per_chunk * ratio))))
    bounds, sums = _inverse(est, leaves, total / wanted, wanted, tolerance)
    chunk_bounds = [*bounds, end]
    sums.append(total)
    pieces = [(chunk_bounds[i], chunk_bounds[i + 1], sums[i + 1] - sums[i]) for i in range(len(bounds))]
    # More calibration ranges, at chunk starts spread over the table: they only sharpen the rows
    # reported, the boundaries are already cut (and correct whatever the ratio).
    for lo, hi, _ in pieces[1 :: max(1, len(pieces) // (CALIBRATION_PROBES - 1))][: CALIBRATION_PROBES - 1]:
        _probe(est, lo, end, probe, max(1, (hi - lo) * probe // max(1, rows_per_chunk)), counted)
    ratio = _ratio(counted)
    chunks = [Chunk(i, lo, hi, round(max(value, 0) / ratio)) for i, (lo, hi, value) in enumerate(pieces)]
    return EstimatedPlan(chunks, ratio, est.calls, sum(r for _, r in counted))


def _inverse(
    est: _Estimator, leaves: list[tuple[int, int, int]], share: float, wanted: int, tolerance: float
) -> tuple[list[int], list[float]]:
    """Chunk starts where the leaves' running estimate reaches each multiple of `share`, with the
    running estimate at each start (the first start is the first leaf's)."""
    bounds, sums = [leaves[0][0]], [0.0]
    cum, i, slack = 0.0, 0, tolerance * share
    for k in range(1, wanted):
        need = k * share
        while i < len(leaves) - 1 and cum + leaves[i][2] <= need:
            cum += leaves[i][2]
            i += 1
        lo, hi, value = leaves[i]
        part = need - cum
        if part <= slack:
            x, at = lo, cum
        elif value - part <= slack:
            x, at = hi, cum + value
        else:
            span = max(1, int((hi - lo) * part / max(value, 1)))
            found = _find(est, lo, hi, part, slack / part, span)
            x, at = (hi, cum + value) if found is None else (found[0], cum + found[1])
        if x > bounds[-1] and x <= leaves[-1][1] - 1:
            bounds.append(x)
            sums.append(at)
    return bounds, sums


def _probe(est: _Estimator, lo: int, end: int, rows: int, span: int, counted: list[tuple[int, int]]) -> None:
    """Count one small range from `lo` exactly (about `rows` rows) beside its estimate."""
    found = _find(est, lo, end, rows * 2, 0.5, span)
    hi, value = found if found is not None else (end, est(lo, end))
    # A range ending with one key value estimated far above the probe (a composite key's hot leading
    # value, bulkscan.mysqldb.keyestimate) is counted without that value, whose count would read it all.
    if value > 8 * rows:
        hi -= 1
        value = est(lo, hi) if hi > lo else 0
        if value > 8 * rows:
            return
    if value > 0:
        counted.append((value, est.ranges.count(lo, hi)))


def _ratio(counted: list[tuple[int, int]]) -> float:
    """The engine's estimate / real ratio over the calibration ranges; 1.0 when nothing was counted."""
    estimated, real = sum(e for e, _ in counted), sum(r for _, r in counted)
    return estimated / real if estimated > 0 and real > 0 else 1.0
