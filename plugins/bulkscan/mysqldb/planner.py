"""Plan a table into gap-aware chunks: ID ranges, or tuple ranges of a composite or string key
(`plan_keys`).

Two ways to find an integer key's boundaries (`Planning`):
  - "estimate": from the engine's range estimates (EXPLAIN), bulkscan.core.estimated_plan; the table
    is not read, so planning costs the same at 10^7 rows and 10^9. Chunk rows are estimates.
  - "walk": by walking the key index (`WHERE key >= ? ORDER BY key LIMIT 1 OFFSET n`), one read of the
    whole index; chunk rows are exact. A filtered plan always walks: an estimate of the key range says
    nothing about how many of its rows pass the filter, and the walk keeps a filtered plan balanced.
`plan_balanced` gives near-equal chunks from the row estimate for less walking (the shard fan-out's big
shards). A composite key led by integers is estimated in bulkscan.mysqldb.keyestimate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from bulkscan.core.chunks import Chunk, check_sizes, iter_boundaries, split_by_estimate
from bulkscan.core.estimated_plan import Planning, TooManyEstimates, plan_by_estimate
from bulkscan.core.keys import Key, KeyChunk, compare_params, compare_sql, iter_key_chunks, key_select
from bulkscan.core.sqlfiles import Fragment, raw, render
from bulkscan.mysqldb.source import TableSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    chunks: list[Chunk] = field(default_factory=list)
    total_rows: int = 0  # exact when walked, the calibrated estimate when estimated
    first: int | None = None
    last: int | None = None
    planning: Planning = "walk"  # how the boundaries were found (a filtered plan always walks)
    estimates: int = 0  # EXPLAIN calls an estimated plan made


def plan_table(conn: Any, spec: TableSpec, rows_per_chunk: int, max_chunks: int, planning: Planning = "walk") -> Plan:
    """Chunks of about `rows_per_chunk` rows (at most `max_chunks` of them) over the filtered rows.

    "walk": an unfiltered table whose estimated size fits comfortably in `max_chunks` chunks is planned
    without COUNT(*): one walk of the key index, then a count of the last chunk only. Otherwise the
    exact count comes first, so `max_chunks` can raise the rows per chunk evenly.
    "estimate" (unfiltered only; a filtered plan walks): from range estimates, reading no rows.
    """
    if planning == "estimate" and not spec.filters:
        return plan_estimated(conn, spec, rows_per_chunk, max_chunks)
    chunks = list(iter_plan(conn, spec, rows_per_chunk, max_chunks))
    if not chunks:
        return Plan()
    total = sum(c.rows or 0 for c in chunks)
    return Plan(chunks, total, chunks[0].lo, chunks[-1].hi - 1)


def plan_estimated(conn: Any, spec: TableSpec, rows_per_chunk: int, max_chunks: int) -> Plan:
    """Near-equal chunks of an unfiltered table from the engine's range estimates (the table is not read
    but for a few small calibration counts); see bulkscan.core.estimated_plan."""
    rows_per_chunk, max_chunks = check_sizes(rows_per_chunk, max_chunks)
    cur = conn.cursor()
    cur.execute(render("common/key_bounds", table=spec.table_sql(), key=spec.key_sql()))
    first, last = cur.fetchone()
    if first is None:
        return Plan(planning="estimate")
    ranges = _ServerRanges(conn, spec, int(first), int(last))
    if ranges.table_rows < 2 * rows_per_chunk:
        # Statistics say one or two chunks: a walk costs little when they are right, and stays
        # balanced when they are stale (a table filled since its last statistics).
        return plan_table(conn, spec, rows_per_chunk, max_chunks, "walk")
    try:
        planned = plan_by_estimate(ranges, rows_per_chunk, max_chunks)
    except TooManyEstimates:
        log.warning("range estimates of %s disagree with its statistics (run ANALYZE TABLE); walking", spec.name)
        return plan_table(conn, spec, rows_per_chunk, max_chunks, "walk")
    chunks = planned.chunks
    total = sum(c.rows or 0 for c in chunks)
    return Plan(chunks, total, int(first), int(last), "estimate", planned.estimates)


def iter_plan(conn: Any, spec: TableSpec, rows_per_chunk: int, max_chunks: int) -> Iterator[Chunk]:
    """The same chunks as `plan_table`, each yielded as soon as the walk found its end, so a caller
    outside Airflow can scan chunk 0 while the planner walks on (every chunk's `rows` is filled in)."""
    rows_per_chunk, max_chunks = check_sizes(rows_per_chunk, max_chunks)
    _, params = spec.where()
    cur = conn.cursor()
    total: int | None = None
    if not spec.filters and _estimate(cur, spec) * 2 <= rows_per_chunk * max_chunks:
        cur.execute(render("common/key_bounds", table=spec.table_sql(), key=spec.key_sql()))
        first, last = cur.fetchone()
        if first is None:
            return
    else:
        cur.execute(render("common/table_stats", **spec.parts()), params)
        total, first, last = cur.fetchone()
        if not total:
            return
    boundary_sql = render("common/key_boundary", **spec.parts())

    def next_boundary(lo: int, n: int) -> int | None:
        cur.execute(boundary_sql, (lo, last + 1, *params, n))
        row = cur.fetchone()
        return int(row[0]) if row else None

    for chunk in iter_boundaries(next_boundary, int(first), int(last), total, rows_per_chunk, max_chunks):
        yield chunk if chunk.rows is not None else replace(chunk, rows=count_range(conn, spec, chunk.lo, chunk.hi))


def plan_range(conn: Any, spec: TableSpec, lo: int, hi: int, rows_per_chunk: int, max_chunks: int) -> list[Chunk]:
    """Exact chunks of `rows_per_chunk` filtered rows tiling [lo, hi), by walking the key index over that
    range only (at most `max_chunks`, the last taking what remains): the rest of a chunk split at scan
    time, whose planned size was wrong, so its pieces are counted, not estimated."""
    rows_per_chunk, max_chunks = check_sizes(rows_per_chunk, max_chunks)
    if hi <= lo:
        return []
    _, params = spec.where()
    cur = conn.cursor()
    boundary_sql = render("common/key_boundary", **spec.parts())

    def next_boundary(start: int, n: int) -> int | None:
        cur.execute(boundary_sql, (start, hi, *params, n))
        row = cur.fetchone()
        return int(row[0]) if row else None

    return [
        c if c.rows is not None else replace(c, rows=count_range(conn, spec, c.lo, c.hi))
        for c in iter_boundaries(next_boundary, lo, hi - 1, None, rows_per_chunk, max_chunks)
    ]


def plan_balanced(
    conn: Any, spec: TableSpec, rows_per_chunk: int, max_chunks: int, estimate: int | None = None
) -> Plan:
    """Near-equal chunks of an unfiltered table from its row estimate, walking only inner boundaries.

    `estimate` is the catalog's row estimate when the caller already has it. A filtered table is
    planned exactly (`plan_table`): the estimate says nothing about how many rows pass a filter.
    """
    if spec.filters:
        return plan_table(conn, spec, rows_per_chunk, max_chunks)
    rows_per_chunk, max_chunks = check_sizes(rows_per_chunk, max_chunks)
    cur = conn.cursor()
    if estimate is None:
        estimate = _estimate(cur, spec)
    cur.execute(render("common/key_bounds", table=spec.table_sql(), key=spec.key_sql()))
    first, last = cur.fetchone()
    if first is None:
        return Plan()
    boundary_sql = render("common/key_boundary", **spec.parts())

    def next_boundary(lo: int, n: int) -> int | None:
        cur.execute(boundary_sql, (lo, int(last) + 1, n))
        row = cur.fetchone()
        return int(row[0]) if row else None

    chunks = split_by_estimate(next_boundary, int(first), int(last), estimate, rows_per_chunk, max_chunks)
    return Plan(chunks, sum(c.rows or 0 for c in chunks), int(first), int(last))


class _ServerRanges:
    """The table's key as bulkscan.core.estimated_plan asks for it: EXPLAIN for estimates, COUNT(*)."""

    def __init__(self, conn: Any, spec: TableSpec, first: int, last: int):
        self.conn, self.spec, self.first, self.last = conn, spec, first, last
        self.cur = conn.cursor()
        self.table_rows = min(_estimate(self.cur, spec), 1 << 62)
        self.sql = render("common/range_estimate", table=spec.table_sql(), key=spec.key_sql())

    def estimate(self, lo: int, hi: int) -> int:
        return explained_rows(self.cur, self.sql, (lo, hi))

    def count(self, lo: int, hi: int) -> int:
        return count_range(self.conn, self.spec, lo, hi)


def explained_rows(cur: Any, explain_sql: str, params: tuple[Any, ...]) -> int:
    """EXPLAIN's `rows` for one key range: the engine's estimate (InnoDB: two B-tree dives)."""
    cur.execute(explain_sql, params)
    names = [d[0].lower() for d in cur.description]
    row = dict(zip(names, cur.fetchone(), strict=True))
    if str(row.get("type")) not in ("range", "const", "eq_ref", "ref"):
        return 1 << 62  # a full-scan plan: the optimizer judged the range most of the table
    return int(row.get("rows") or 0)


def _estimate(cur: Any, spec: TableSpec) -> int:
    cur.execute(raw("common/table_estimate"), (spec.database, spec.table))
    row = cur.fetchone()
    return int(row[0]) if row and row[0] is not None else 1 << 62


def count_range(conn: Any, spec: TableSpec, lo: int, hi: int) -> int:
    """Rows of [lo, hi) that pass the filter, counted independently of any scan."""
    _, params = spec.where()
    cur = conn.cursor()
    cur.execute(render("common/range_count", **spec.parts()), (lo, hi, *params))
    return int(cur.fetchone()[0])


# --- composite and string keys (bulkscan.core.keys) ---------------------------------------------


def plan_keys(conn: Any, spec: TableSpec, rows_per_chunk: int, max_chunks: int) -> list[KeyChunk]:
    """Tuple-range chunks of a composite or string key: one walk of its unique index, as `plan_table`.

    The server finds and compares every boundary (the index's collation order); the walk reads
    `rows_per_chunk` index entries per chunk and returns the chunk's last key with the next one's first.
    """
    return list(iter_plan_keys(conn, spec, rows_per_chunk, max_chunks))


def iter_plan_keys(conn: Any, spec: TableSpec, rows_per_chunk: int, max_chunks: int) -> Iterator[KeyChunk]:
    """`plan_keys` as a generator: each chunk as soon as the walk found its end (rows filled in)."""
    rows_per_chunk, max_chunks = check_sizes(rows_per_chunk, max_chunks)
    keys, order = key_select(spec.keys)
    _, desc = key_select(spec.keys, desc=True)
    where, params = spec.where()
    cur = conn.cursor()
    parts = {"keys": keys, "table": spec.table_sql(), "where": where}
    cur.execute(render("common/key_first", **parts, order=order), params)
    first_row = cur.fetchone()
    if first_row is None:
        return
    first = tuple(first_row)
    total: int | None = None
    if spec.filters or _estimate(cur, spec) * 2 > rows_per_chunk * max_chunks:
        cur.execute(render("common/row_count", table=spec.table_sql(), where=where), params)
        total = int(cur.fetchone()[0])
    # The walk is bounded below only: a second tuple comparison on every index entry it reads costs
    # about a sixth more, and the last key is read once the walk has reached it (below).
    walk_sql = render("common/key_walk", **parts, range=Fragment(compare_sql(spec.keys, ">=")), order=order)

    def walk(lo: Key, n: int) -> tuple[Key, Key] | None:
        cur.execute(walk_sql, (*compare_params(lo), *params, n - 1))
        rows = cur.fetchall()
        return (tuple(rows[0]), tuple(rows[1])) if len(rows) == 2 else None

    def last_key() -> Key:
        cur.execute(render("common/key_first", **parts, order=desc), params)
        return tuple(cur.fetchone())

    for chunk in iter_key_chunks(walk, spec.keys, (first, last_key), total, rows_per_chunk, max_chunks):
        yield chunk if chunk.rows is not None else replace(chunk, rows=count_key_range(conn, spec, chunk))


def count_key_range(conn: Any, spec: TableSpec, chunk: KeyChunk) -> int:
    """Rows of a tuple-key chunk that pass the filter, counted independently of any scan."""
    rng, rng_params = chunk.where()
    where, params = spec.where()
    cur = conn.cursor()
    cur.execute(
        render("common/key_range_count", table=spec.table_sql(), range=Fragment(rng), where=where),
        (*rng_params, *params),
    )
    return int(cur.fetchone()[0])
