"""Planner on dense ids, sparse ids, one huge gap, tiny tables and bad input (no database)."""

from __future__ import annotations

import bisect
import random

import pytest

from bulkscan.core.chunks import (
    KEY_END,
    KEY_MIN,
    Chunk,
    assert_partition,
    even_stride,
    fitted_rows_per_chunk,
    plan_boundaries,
    split_by_estimate,
)
from bulkscan.errors import BulkscanInputError


def index_walk(keys: list[int]):
    """next_boundary over a sorted key list: the key of the (n+1)-th key >= lo (as the SQL walk does)."""

    def next_boundary(lo: int, n: int) -> int | None:
        i = bisect.bisect_left(keys, lo) + n
        return keys[i] if i < len(keys) else None

    return next_boundary


def plan(keys: list[int], target: int, max_chunks: int = 1024) -> list[Chunk]:
    return plan_boundaries(index_walk(keys), keys[0], keys[-1], len(keys), target, max_chunks)


def rows_in(chunk: Chunk, keys: list[int]) -> int:
    return bisect.bisect_left(keys, chunk.hi) - bisect.bisect_left(keys, chunk.lo)


def check_exact_cover(chunks: list[Chunk], keys: list[int]) -> None:
    assert_partition(chunks, keys[0], keys[-1])
    owners = [sum(1 for c in chunks if c.lo <= k < c.hi) for k in keys]
    assert owners == [1] * len(keys), "every key in exactly one chunk"
    assert [rows_in(c, keys) for c in chunks] == [c.rows for c in chunks]


def test_dense_ids_equal_chunks() -> None:
    keys = list(range(1, 10_001))
    chunks = plan(keys, 1_000)
    assert len(chunks) == 10
    assert {rows_in(c, keys) for c in chunks} == {1_000}
    assert chunks[0].label == "ids 1-1,000"
    check_exact_cover(chunks, keys)


def test_sparse_ids_stay_balanced() -> None:
    rng = random.Random(7)
    keys = sorted(rng.sample(range(1, 5_000_000), 20_000))
    chunks = plan(keys, 1_500)
    counts = [rows_in(c, keys) for c in chunks]
    assert counts[:-1] == [1_500] * (len(chunks) - 1)
    assert 0 < counts[-1] <= 1_500
    check_exact_cover(chunks, keys)


def test_one_huge_gap_beats_even_striding() -> None:
    # 10,000 ids at the bottom, 10,000 ids a billion further up: min/max striding puts
    # every row into the first and last chunks and leaves the middle chunks empty.
    keys = list(range(1, 10_001)) + list(range(1_000_000_001, 1_000_010_001))
    ours = plan(keys, 2_000)
    check_exact_cover(ours, keys)
    assert {rows_in(c, keys) for c in ours} == {2_000}

    naive = even_stride(keys[0], keys[-1], len(ours))
    naive_counts = [rows_in(c, keys) for c in naive]
    assert sum(naive_counts) == len(keys)
    assert max(naive_counts) >= 10_000 and naive_counts.count(0) >= len(naive) - 2


def test_max_chunks_raises_rows_per_chunk() -> None:
    keys = list(range(1, 100_001))
    chunks = plan(keys, 1_000, max_chunks=8)
    assert len(chunks) == 8
    assert fitted_rows_per_chunk(100_000, 1_000, 8) == 12_500
    check_exact_cover(chunks, keys)


def test_empty_and_one_row_tables() -> None:
    assert plan_boundaries(index_walk([]), 0, 0, 0, 10, 10) == []
    one = plan([42], 1_000)
    assert one == [Chunk(0, 42, 43, 1)]


def test_exact_multiple_leaves_no_empty_tail() -> None:
    keys = list(range(5, 5 + 3_000))
    chunks = plan(keys, 1_000)
    assert [c.rows for c in chunks] == [1_000, 1_000, 1_000]
    check_exact_cover(chunks, keys)


@pytest.mark.parametrize("target,max_chunks", [(0, 10), (-5, 10), (10, 0), ("10", 10), (True, 10), (10, 2.5)])
def test_bad_sizes_are_input_errors(target: object, max_chunks: object) -> None:
    with pytest.raises(BulkscanInputError):
        plan_boundaries(index_walk([1, 2]), 1, 2, 2, target, max_chunks)  # type: ignore[arg-type]


def test_chunk_dict_roundtrip() -> None:
    c = Chunk(3, 1, 1_250_001, 1_250_000)
    assert Chunk.from_dict(c.as_dict()) == c
    assert c.label == "ids 1-1,250,000"


def test_walk_without_a_count_finds_the_end_itself() -> None:
    rng = random.Random(3)
    keys = sorted(rng.sample(range(1, 2_000_000), 12_345))
    chunks = plan_boundaries(index_walk(keys), keys[0], keys[-1], None, 1_000, 1024)
    assert_partition(chunks, keys[0], keys[-1])
    assert [rows_in(c, keys) for c in chunks[:-1]] == [1_000] * 12
    assert chunks[-1].rows is None and rows_in(chunks[-1], keys) == 345
    # max_chunks still bounds the plan: the last chunk takes the rest
    capped = plan_boundaries(index_walk(keys), keys[0], keys[-1], None, 1_000, 5)
    assert len(capped) == 5 and rows_in(capped[-1], keys) == 12_345 - 4_000
    assert_partition(capped, keys[0], keys[-1])


def counting(walk):  # type: ignore[no-untyped-def]
    """Wrap a next_boundary to record how many rows each call walked."""
    walked: list[int] = []

    def next_boundary(lo: int, n: int) -> int | None:
        walked.append(n)
        return walk(lo, n)

    return next_boundary, walked


def test_split_by_estimate_walks_inner_boundaries_only() -> None:
    rng = random.Random(9)
    keys = sorted(rng.sample(range(1, 50_000_000), 40_000))
    keys += [k + 10**12 for k in keys[:5_000]]  # one huge gap: the walk still balances the chunks
    walk, walked = counting(index_walk(keys))
    chunks = split_by_estimate(walk, keys[0], keys[-1], len(keys), 10_000, 64)
    assert_partition(chunks, keys[0], keys[-1])
    assert len(chunks) == 4 and [rows_in(c, keys) for c in chunks] == [11_250] * 4
    assert sum(walked) == 3 * 11_250  # (n-1)/n of one pass: no COUNT, no walk to the end
    # the estimate rounds: 1.4 chunks' worth is one chunk (no walk), 1.6 is two
    one, walked1 = counting(index_walk(keys))
    assert split_by_estimate(one, keys[0], keys[-1], 14_000, 10_000, 64) == [Chunk(0, keys[0], keys[-1] + 1, 14_000)]
    assert walked1 == []
    assert len(split_by_estimate(index_walk(keys), keys[0], keys[-1], 16_000, 10_000, 64)) == 2


def test_split_by_estimate_survives_a_wrong_estimate() -> None:
    keys = list(range(100, 30_100, 3))  # 10,000 rows
    high = split_by_estimate(index_walk(keys), keys[0], keys[-1], 100_000, 10_000, 64)  # 10x too high
    assert_partition(high, keys[0], keys[-1])  # the walk ran out early: the last chunk takes the rest
    assert sum(rows_in(c, keys) for c in high) == 10_000 and len(high) == 1
    low = split_by_estimate(index_walk(keys), keys[0], keys[-1], 4_000, 1_000, 64)  # 2.5x too low
    assert_partition(low, keys[0], keys[-1])
    assert [rows_in(c, keys) for c in low] == [1_000, 1_000, 1_000, 7_000]
    capped = split_by_estimate(index_walk(keys), keys[0], keys[-1], 10_000, 100, 8)
    assert len(capped) == 8 and {rows_in(c, keys) for c in capped} == {1_250}
    with pytest.raises(BulkscanInputError):
        split_by_estimate(index_walk(keys), keys[0], keys[-1], 10_000, 0, 8)


def test_whole_table_chunk() -> None:
    assert Chunk(0, KEY_MIN, KEY_END).whole_table
    assert not Chunk(0, KEY_MIN + 1, KEY_END).whole_table and not Chunk(0, 1, 10).whole_table


def test_bounds_beyond_int64_travel_as_text_and_come_back_exact() -> None:
    """The task runner sends XCom to its supervisor as msgpack (msgspec), which refuses 2**64 (the half-open end of the
    last chunk of a BIGINT UNSIGNED key); found by make bench-stack on a chunked shard table."""
    import msgspec

    from bulkscan.core.chunks import KEY_END, KEY_MIN, wire_bound

    with pytest.raises(OverflowError):
        msgspec.msgpack.encode({"hi": KEY_END})
    for lo, hi in [(KEY_MIN, KEY_END), (2**63, KEY_END), (-5, 10), (2**63 - 1, 2**63)]:
        chunk = Chunk(3, lo, hi, 7)
        for wire in (chunk.payload(), chunk.as_dict()):
            back = Chunk.from_dict(msgspec.msgpack.decode(msgspec.msgpack.encode(wire)))
            assert (back.lo, back.hi, back.index, back.rows) == (lo, hi, 3, 7)
        assert isinstance(wire_bound(lo), int) == (-(2**63) <= lo < 2**63)


def test_a_chunk_is_oversize_past_twice_its_plan_or_the_target() -> None:
    from bulkscan.core.chunks import OVERSIZE, oversize_limit, renumbered

    assert OVERSIZE == 2
    assert oversize_limit(30_000, 25_000) == 60_000  # twice its plan
    assert oversize_limit(10_000, 25_000) == 50_000  # a small last chunk: twice the target
    assert oversize_limit(None, 25_000) == 50_000  # rows unknown
    pieces = renumbered([Chunk(0, 10, 20, 5), Chunk(1, 20, 30, 4)], 7)
    assert [(c.index, c.lo, c.hi, c.rows) for c in pieces] == [(7, 10, 20, 5), (8, 20, 30, 4)]


def test_a_chunk_time_limit_follows_its_plan_within_floor_and_bound() -> None:
    """10x the planned rows at the last run's slowest rate, never below the floor nor above the form's
    bound; the bound itself before a first run, or when the rows are unknown."""
    from bulkscan.core.chunks import TIME_LIMIT_FACTOR, chunk_time_limit

    assert TIME_LIMIT_FACTOR == 10
    assert chunk_time_limit(1_250_000, 2e-6, 7_200, 300) == 300  # 25 s derived: the floor
    assert chunk_time_limit(1_250_000, 1e-4, 7_200, 300) == 1_250  # 10 x 125 s
    assert chunk_time_limit(1_250_000, 1e-2, 7_200, 300) == 7_200  # the form's bound
    assert chunk_time_limit(1_250_000, None, 7_200, 300) == 7_200  # no earlier run
    assert chunk_time_limit(None, 1e-4, 7_200, 300) == 7_200  # rows unknown
    assert chunk_time_limit(30_000, 1e-5, 7_200, 2) == 3  # rounded up
