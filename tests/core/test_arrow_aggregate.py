"""The built-in Arrow aggregate (bulkscan.core.processors.ArrowAggregate) sums exactly, as the SQL
aggregate's DECIMAL sums and rows mode's Python ints do, whatever the integer type and however far the
sums leave 64 bits (Arrow's own integer sums wrap around silently)."""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa
import pytest

from bulkscan.core.processors import ArrowAggregate

INT64_MIN, INT64_MAX, UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1


def exact(batches: list[tuple[list[int], list[Any]]]) -> dict[Any, list[int]]:
    out: dict[Any, list[int]] = {}
    for groups, values in batches:
        for g, v in zip(groups, values, strict=True):
            acc = out.setdefault(g, [0, 0])
            acc[0] += v or 0
            acc[1] += 1
    return out


@pytest.mark.parametrize(
    "arrow_type,low,high",
    [
        (pa.int8(), -128, 127),
        (pa.int32(), -(2**31), 2**31 - 1),
        (pa.int64(), -1000, 1000),  # small: summed as Arrow's int64
        (pa.int64(), INT64_MIN, INT64_MAX),  # each group's sum far beyond 64 bits
        (pa.int64(), 2**61, 2**62),  # all positive: wraps to negative in int64
        (pa.uint64(), 2**63, UINT64_MAX),
    ],
)
def test_sums_equal_pythons_exact_integer_sums(arrow_type: Any, low: int, high: int) -> None:
    rnd = random.Random(7)
    batches = []
    for _ in range(3):
        groups = [rnd.randrange(5) for _ in range(2_000)]
        values = [rnd.choice([low, high, rnd.randint(low, high), None]) for _ in groups]
        batches.append((groups, values))
    p = ArrowAggregate("g", "v")
    for groups, values in batches:
        p.process_arrow(pa.table({"g": pa.array(groups, pa.int32()), "v": pa.array(values, arrow_type)}))
    assert {g: list(acc) for g, acc in p.groups.items()} == exact(batches)
    assert all(isinstance(acc[0], int) for acc in p.groups.values())


def test_no_group_column_sums_the_whole_batch_exactly() -> None:
    p = ArrowAggregate(None, "v")
    p.process_arrow(pa.table({"v": pa.array([INT64_MAX, INT64_MAX, 1], pa.int64())}))
    assert dict(p.groups) == {None: [2 * INT64_MAX + 1, 3]}
