"""Planning from range estimates (bulkscan.core.estimated_plan), against a simulated engine whose
estimates behave as InnoDB's were measured to: about twice the real count for any range above a few
pages, off by a few percent from range to range, exact for tiny ranges, capped at half the table."""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable

import pytest

from bulkscan.core.chunks import assert_partition
from bulkscan.core.estimated_plan import plan_by_estimate

pytestmark = pytest.mark.unit


class Engine:
    """A sorted key set with InnoDB-like estimates; counts every estimate call and every counted row."""

    def __init__(self, keys: list[int], seed: int = 7, noise: float = 0.05, bias: Callable[[int], float] | None = None):
        self.keys = keys
        self.rng = random.Random(seed)
        self.noise = noise
        self.bias = bias or (lambda key: 1.0)
        self.estimates = 0
        self.counted = 0
        self.first, self.last, self.table_rows = keys[0], keys[-1], len(keys)

    def real(self, lo: int, hi: int) -> int:
        return bisect.bisect_left(self.keys, hi) - bisect.bisect_left(self.keys, lo)

    def estimate(self, lo: int, hi: int) -> int:
        self.estimates += 1
        n = self.real(lo, hi)
        if n < 200:  # a few pages: dived exactly
            return max(n, 1)
        value = int(n * 2.1 * self.bias(lo) * (1 + self.rng.uniform(-self.noise, self.noise)))
        return min(value, self.table_rows // 2)  # InnoDB caps at half its statistic of the table

    def count(self, lo: int, hi: int) -> int:
        n = self.real(lo, hi)
        self.counted += n
        return n


def islands(rows: int) -> list[int]:
    """The bench-scale layout in small: 20 islands every 3rd key, a dense hot range, a 10^12 gap, a tail."""
    keys: list[int] = []
    island = rows * 2 // 100
    for k in range(1, 21):
        keys.extend(k * 100_000_000 + 3 * i for i in range(island))
    hot = rows * 3 // 10
    keys.extend(3_000_000_000 + i for i in range(hot))
    tail = rows - len(keys)
    keys.extend(3_000_000_000 + hot + 10**12 + 7 * i for i in range(tail))
    return keys


def plan(engine: Engine, rows_per_chunk: int, max_chunks: int = 1024):  # type: ignore[no-untyped-def]
    return plan_by_estimate(engine, rows_per_chunk, max_chunks)


def real_rows(engine: Engine, chunks) -> list[int]:  # type: ignore[no-untyped-def]
    return [engine.real(c.lo, c.hi) for c in chunks]


def test_chunks_tile_the_keys_and_hold_every_row_once() -> None:
    engine = Engine(islands(400_000))
    planned = plan(engine, 20_000)
    assert_partition(planned.chunks, engine.keys[0], engine.keys[-1])
    assert sum(real_rows(engine, planned.chunks)) == len(engine.keys)


def test_chunks_are_balanced_over_islands_gaps_and_a_dense_range() -> None:
    engine = Engine(islands(400_000))
    rows = real_rows(engine, plan(engine, 20_000).chunks)
    mean = sum(rows) / len(rows)
    assert 18 <= len(rows) <= 22
    assert max(rows) / mean <= 1.15
    assert min(rows) / mean >= 0.85


def test_reported_rows_are_calibrated_to_the_real_count() -> None:
    """The engine says about twice the real count; the plan's rows are within 15% of the real ones."""
    engine = Engine(islands(400_000))
    planned = plan(engine, 20_000)
    assert 1.9 <= planned.ratio <= 2.3
    for chunk, real in zip(planned.chunks, real_rows(engine, planned.chunks), strict=True):
        assert abs(chunk.rows - real) <= 0.15 * real
    # four small ranges of about a tenth of a chunk each (at least 10,000 rows), whatever the table
    assert planned.counted_rows <= 4 * 1.5 * 10_000, "the calibration counts a few small ranges only"


def test_planning_cost_does_not_grow_with_the_table() -> None:
    """Ten times the rows in the same number of chunks: the estimate calls stay about the same, and
    no more rows are counted (the walk would read every key)."""
    small, big = Engine(islands(100_000)), Engine(islands(1_000_000))
    plan(small, 100_000 // 64, 64)
    plan(big, 1_000_000 // 64, 64)
    assert big.estimates <= 1.5 * small.estimates
    assert big.counted <= 2 * small.counted


def test_max_chunks_raises_the_rows_per_chunk_evenly() -> None:
    engine = Engine(islands(400_000))
    rows = real_rows(engine, plan(engine, 1_000, 16).chunks)
    assert len(rows) == 16
    assert max(rows) / (sum(rows) / 16) <= 1.15


def test_a_table_smaller_than_a_chunk_is_one_chunk() -> None:
    engine = Engine(list(range(5, 905, 3)))
    planned = plan(engine, 1_000_000)
    assert [(c.lo, c.hi) for c in planned.chunks] == [(5, 903)]
    single = Engine([42])
    assert [(c.lo, c.hi, c.rows) for c in plan(single, 10).chunks] == [(42, 43, 1)]


def test_wrong_estimates_cost_balance_never_rows() -> None:
    """A region whose estimates are 4x too high (pages half empty after deletes, say): its chunks come
    out small, yet every row is still in exactly one chunk."""
    keys = islands(200_000)
    engine = Engine(keys, bias=lambda key: 4.0 if 3_000_000_000 <= key < 3_000_100_000 else 1.0)
    planned = plan(engine, 10_000)
    assert_partition(planned.chunks, keys[0], keys[-1])
    assert sum(real_rows(engine, planned.chunks)) == len(keys)


@pytest.mark.parametrize("seed", range(5))
def test_random_sparse_layouts_tile_and_balance(seed: int) -> None:
    rng = random.Random(seed)
    keys: list[int] = []
    base = rng.randrange(0, 10**6)
    for _ in range(rng.randrange(3, 12)):
        step = rng.choice((1, 2, 7, 100))
        n = rng.randrange(5_000, 60_000)
        keys.extend(base + step * i for i in range(n))
        base = keys[-1] + rng.choice((1, 10**3, 10**9, 10**12))
    engine = Engine(keys, seed=seed)
    planned = plan(engine, max(1_000, len(keys) // 12))
    assert_partition(planned.chunks, keys[0], keys[-1])
    rows = real_rows(engine, planned.chunks)
    assert sum(rows) == len(keys)
    assert max(rows) / (sum(rows) / len(rows)) <= 1.25


def test_statistics_far_off_the_table_stop_the_plan_instead_of_asking_forever() -> None:
    """TABLE_ROWS sets the half-table cap: statistics that say 100 rows for 400,000 make every range
    look capped. The plan gives up after MAX_ESTIMATES (the caller then walks the index)."""
    from bulkscan.core.estimated_plan import MAX_ESTIMATES, TooManyEstimates

    engine = Engine(islands(400_000))
    engine.table_rows = 100
    with pytest.raises(TooManyEstimates):
        plan(engine, 5_000)
    assert engine.estimates == MAX_ESTIMATES
