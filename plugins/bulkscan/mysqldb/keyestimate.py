"""Plan a composite key from range estimates: integer key columns, one level of the key at a time.

Walking a composite key's index (`planner.iter_plan_keys`) reads every index entry once, like the
integer walk. A key like `(shop_id, id)` is planned here instead by `bulkscan.core.estimated_plan`
on its leading column: `shop_id >= a AND shop_id < b` is an index range whose rows InnoDB estimates
by two B-tree dives. One leading value can hold more than a chunk (a hot shop holding a third of the
table), and no boundary on `shop_id` alone can split it. The level is then planned again around such
values: the stretches between them in chunks of at most about a share, and each hot value one column
down, `shop_id = 17 AND id >= x AND id < y`, and so on while the columns are integers.

A boundary found this way is a prefix of the key (`(17,)`, `(17, 5_000_001)`); it becomes the first
key at or after it (one dive of the index, `LIMIT 1`), so the chunks are ordinary `KeyChunk`s that
tile the key space exactly: every row is in exactly one chunk whatever an estimate said, and a wrong
estimate only makes a chunk bigger or smaller than its target. `KeyChunk.rows` is the calibrated
estimate; the scan counts each chunk exactly. Cost: the estimates and calibration counts of
`plan_by_estimate` per stretch and hot value planned (a few ranges of at most 50,000 rows each,
however big the table), and two index dives per chunk (its first key, and the key before the next
chunk's); nothing per row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bulkscan.core.chunks import check_sizes
from bulkscan.core.estimated_plan import EstimatedPlan, Planning, TooManyEstimates, plan_by_estimate
from bulkscan.core.identifiers import quote_identifier
from bulkscan.core.keys import Key, KeyChunk, KeyValue, compare_params, compare_sql, key_select
from bulkscan.core.sqlfiles import Fragment, raw, render
from bulkscan.mysqldb.planner import explained_rows, plan_keys
from bulkscan.mysqldb.source import TableSpec

# A chunk estimated above this many times its share that ends with a value of half a share or more:
# the level is planned around that value, which is planned one column down if it alone holds more
# than this many shares (1.25: the skew the estimated integer plan is held to).
HOT = 1.25
# A chunk planned to hold "at most" a share may hold this much more (estimates agree to a few percent).
OVER = 1.1


@dataclass(frozen=True)
class KeyPlan:
    chunks: list[KeyChunk]
    estimates: int = 0  # EXPLAIN calls the plan made
    planning: Planning = "estimate"  # "walk" when it fell back to walking the index


class _PrefixRanges:
    """Key column `len(prefix)` among the rows whose leading key columns equal `prefix`, as
    `bulkscan.core.estimated_plan.Ranges`: EXPLAIN estimates and exact counts of its ranges."""

    def __init__(self, conn: Any, spec: TableSpec, prefix: Key, first: int, last: int, table_rows: int):
        self.cur, self.first, self.last, self.table_rows, self.prefix = conn.cursor(), first, last, table_rows, prefix
        cols = [quote_identifier(c) for c in spec.keys[: len(prefix) + 1]]
        cond = " AND ".join([*(f"{c} = %s" for c in cols[:-1]), f"{cols[-1]} >= %s", f"{cols[-1]} < %s"])
        keys, _ = key_select(spec.keys)
        parts = {"keys": keys, "table": spec.table_sql(), "range": Fragment(cond)}
        self.estimate_sql = render("common/key_range_estimate", **parts)
        self.count_sql = render("common/key_range_count", **parts, where=Fragment("1=1"))

    def estimate(self, lo: int, hi: int) -> int:
        return explained_rows(self.cur, self.estimate_sql, (*self.prefix, lo, hi))

    def count(self, lo: int, hi: int) -> int:
        self.cur.execute(self.count_sql, (*self.prefix, lo, hi))
        return int(self.cur.fetchone()[0])


class _Planner:
    def __init__(self, conn: Any, spec: TableSpec, table_rows: int):
        self.conn, self.spec, self.table_rows, self.estimates = conn, spec, table_rows, 0
        self.unsplit = False  # a value of more than a chunk that estimates could not split
        self.cur = conn.cursor()
        self.keys, self.order = key_select(spec.keys)
        _, self.desc = key_select(spec.keys, desc=True)

    def _one(self, where: str, params: tuple[KeyValue, ...], desc: bool = False) -> Key | None:
        sql = render(
            "common/key_first",
            keys=self.keys,
            table=self.spec.table_sql(),
            where=Fragment(where),
            order=self.desc if desc else self.order,
        )
        self.cur.execute(sql, params)
        row = self.cur.fetchone()
        return tuple(row) if row else None

    def first(self, prefix: Key, desc: bool = False) -> Key | None:
        """The first (or last) key whose leading columns equal `prefix` (one index dive)."""
        cols = [quote_identifier(c) for c in self.spec.keys[: len(prefix)]]
        return self._one(" AND ".join(f"{c} = %s" for c in cols) or "1=1", prefix, desc)

    def at_or_after(self, bound: Key) -> Key | None:
        """The first key at or after a key prefix (one index dive)."""
        return self._one(compare_sql(self.spec.keys[: len(bound)], ">="), compare_params(bound))

    def before(self, key: Key) -> Key | None:
        """The last key before `key` (a chunk's label end)."""
        return self._one(compare_sql(self.spec.keys, "<"), compare_params(key), desc=True)

    def level(
        self, prefix: Key, rows_per_chunk: int, max_chunks: int, at_most: bool = False
    ) -> list[tuple[Key, int]] | None:
        """(boundary prefix, estimated rows) of the chunks over key column `len(prefix)` under `prefix`;
        None when that column is not an integer (the caller keeps the value whole). `at_most`: chunks of
        at most `rows_per_chunk` rows (a hot value's), rather than the nearest count of chunks."""
        depth = len(prefix)
        lo_key, hi_key = self.first(prefix), self.first(prefix, desc=True)
        if lo_key is None or hi_key is None:
            return []
        if not (isinstance(lo_key[depth], int) and isinstance(hi_key[depth], int)):
            return None
        first, last = int(lo_key[depth]), int(hi_key[depth])
        planned = self._plan(prefix, first, last + 1, rows_per_chunk, max_chunks, at_most)
        share = _share(sum(c.rows or 0 for c in planned.chunks), rows_per_chunk, max_chunks)
        hot = self._hot_values(prefix, planned, share) if depth + 1 < len(self.spec.keys) else {}
        if not hot:
            return [((*prefix, c.lo), c.rows or 0) for c in planned.chunks]
        out = self._around(prefix, (first, last), hot, share, planned.ratio, max_chunks)
        aim = share
        for _ in range(4):  # the pieces rounded up past max_chunks: aim at bigger ones
            if len(out) <= max_chunks:
                break
            aim = aim * len(out) // max_chunks + 1
            out = self._around(prefix, (first, last), hot, aim, planned.ratio, max_chunks)
        if len(out) > max_chunks:  # still too many: the last chunk takes the rest
            out[max_chunks - 1 :] = [(out[max_chunks - 1][0], sum(r for _, r in out[max_chunks - 1 :]))]
        return out

    def _plan(
        self, prefix: Key, lo: int, hi: int, rows_per_chunk: int, max_chunks: int, at_most: bool = False
    ) -> EstimatedPlan:
        """`plan_by_estimate` of [lo, hi) of this level. `at_most`: in as many chunks as needed for none
        to hold more than `rows_per_chunk` (planned again at the fitted size when rounding made fewer)."""
        ranges = _PrefixRanges(self.conn, self.spec, prefix, lo, hi - 1, self.table_rows)
        planned = plan_by_estimate(ranges, rows_per_chunk, max_chunks)
        self.estimates += planned.estimates
        total = sum(c.rows or 0 for c in planned.chunks)
        wanted = min(max_chunks, math.ceil(total / (rows_per_chunk * OVER)))
        if at_most and wanted > len(planned.chunks):
            planned = plan_by_estimate(ranges, max(1, total // wanted), max_chunks)
            self.estimates += planned.estimates
        return planned

    def _hot_values(self, prefix: Key, planned: EstimatedPlan, share: int) -> dict[int, float]:
        """Values of more than half a share that end a chunk estimated over HOT shares: the estimated
        plan ends a chunk just after a value it cannot split. Value -> its estimated rows."""
        ranges = _PrefixRanges(self.conn, self.spec, prefix, planned.chunks[0].lo, planned.chunks[-1].hi - 1, 1)
        hot: dict[int, float] = {}
        for chunk in planned.chunks:
            if (chunk.rows or 0) > HOT * share:
                self.estimates += 1
                rows = ranges.estimate(chunk.hi - 1, chunk.hi) / planned.ratio
                if rows * 2 >= share:
                    hot[chunk.hi - 1] = rows
        return hot

    def _around(
        self, prefix: Key, span: tuple[int, int], hot: dict[int, float], share: int, ratio: float, max_chunks: int
    ) -> list[tuple[Key, int]]:
        """The level planned again around its hot values: each stretch between them in chunks of about
        `share` rows, each hot value one chunk, or more planned one column down."""
        out: list[tuple[Key, int]] = []
        lo, last = span
        for value in sorted(hot):
            if value > lo:
                out += self._stretch(prefix, lo, value, share, ratio, max_chunks)
            rows = hot[value]
            inner = None
            if rows > HOT * share:  # as many chunks as the value needs, rounded up
                inner = self.level((*prefix, value), share, max_chunks, at_most=True)
                if inner is None:  # the next key column is a string: estimates cannot split this value
                    self.unsplit = True
            out += inner or [((*prefix, value), round(rows))]
            lo = value + 1
        if lo <= last:
            out += self._stretch(prefix, lo, last + 1, share, ratio, max_chunks)
        return out

    def _stretch(
        self, prefix: Key, lo: int, hi: int, share: int, ratio: float, max_chunks: int
    ) -> list[tuple[Key, int]]:
        """[lo, hi) of this level in chunks of about `share` rows (one chunk when it holds little more)."""
        self.estimates += 1
        ranges = _PrefixRanges(self.conn, self.spec, prefix, lo, hi - 1, self.table_rows)
        rows = ranges.estimate(lo, hi) / ratio
        if rows < HOT * share:
            return [((*prefix, lo), round(rows))]
        # at most `share` rows a chunk, as for a hot value: a stretch's chunks are never the big ones
        planned = self._plan(prefix, lo, hi, share, max_chunks, at_most=True)
        return [((*prefix, c.lo), c.rows or 0) for c in planned.chunks]


def _share(total: int, rows_per_chunk: int, max_chunks: int) -> int:
    """The rows of one chunk the plan aims at: the total over the chunks `plan_by_estimate` wants."""
    return max(1, total // min(max_chunks, max(1, round(total / rows_per_chunk))))


def _merge_small(pieces: list[tuple[Key, int]], share: int) -> list[tuple[Key, int]]:
    """Pieces of less than half a share (the rest of a chunk beside a hot value planned one column
    down) joined to their smaller neighbour while the two stay within a tenth over a share."""
    out = list(pieces)
    i = 0
    while i < len(out):
        rows = out[i][1]
        if rows * 2 >= share or len(out) < 2:
            i += 1
            continue
        left = out[i - 1][1] if i > 0 else None
        right = out[i + 1][1] if i + 1 < len(out) else None
        to = i - 1 if right is None or (left is not None and left <= right) else i + 1
        if out[to][1] + rows > share * 11 // 10:
            i += 1
            continue
        first = min(i, to)
        out[first : first + 2] = [(out[first][0], out[first][1] + out[first + 1][1])]
        i = first
    return out


def plan_keys_estimated(conn: Any, spec: TableSpec, rows_per_chunk: int, max_chunks: int) -> KeyPlan | None:
    """Near-equal tuple-key chunks of an unfiltered table from range estimates; None when the key does
    not lead with an integer column or the statistics say the walk is as cheap (the caller walks)."""
    rows_per_chunk, max_chunks = check_sizes(rows_per_chunk, max_chunks)
    cur = conn.cursor()
    cur.execute(raw("common/table_estimate"), (spec.database, spec.table))
    row = cur.fetchone()
    table_rows = int(row[0]) if row and row[0] is not None else 0
    if spec.filters or table_rows < 2 * rows_per_chunk:
        return None
    planner = _Planner(conn, spec, table_rows)
    last = planner.first((), desc=True)
    try:
        bounds = planner.level((), rows_per_chunk, max_chunks)
    except TooManyEstimates:
        return None
    if bounds is None or last is None or planner.unsplit:
        return None  # a string key, or a hot value over a string column: the walk splits it exactly
    starts: list[tuple[Key, int]] = []
    share = _share(sum(rows for _, rows in bounds), rows_per_chunk, max_chunks)
    for bound, rows in _merge_small(bounds, share):
        key = planner.at_or_after(bound)
        if key is None:
            break
        if starts and key == starts[-1][0]:  # an empty piece: its rows belong to the one before
            starts[-1] = (key, starts[-1][1] + rows)
            continue
        starts.append((key, rows))
    chunks = []
    for i, (lo, rows) in enumerate(starts):
        hi = starts[i + 1][0] if i + 1 < len(starts) else None
        end = planner.before(hi) if hi is not None else last
        chunks.append(KeyChunk(i, spec.keys, lo, hi, end or lo, rows))
    return KeyPlan(chunks, planner.estimates)


def plan_tuple_key(conn: Any, spec: TableSpec, rows_per_chunk: int, max_chunks: int, planning: Planning) -> KeyPlan:
    """A composite or string key's chunks: from range estimates when `planning` asks for them and the
    key allows (an unfiltered table whose key leads with an integer), else by walking its index."""
    planned = plan_keys_estimated(conn, spec, rows_per_chunk, max_chunks) if planning == "estimate" else None
    return planned or KeyPlan(plan_keys(conn, spec, rows_per_chunk, max_chunks), planning="walk")


__all__ = ["KeyPlan", "plan_keys_estimated", "plan_tuple_key"]
