"""The flows of one day as a scan: planned by the time index, summed per member by the library scanner.

A producer writes its per-member partial sums into the ResultStore under (run, chunk), so a retried
chunk replaces its earlier attempt; shard tables and Redis nodes are further producers of the same run
(with their own chunk indices) and the day's apply merges them all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

from bulkscan.core.batching import AdaptiveBatch
from bulkscan.core.chunks import Chunk
from bulkscan.core.dbapi import ConnectFactory, Connection
from bulkscan.core.processors import AggregateByKey, ChunkContext
from bulkscan.core.sqlfiles import Fragment, render
from bulkscan.errors import BulkscanInputError
from bulkscan.jobs.member_scoring.business_calendar import HourSlice
from bulkscan.jobs.member_scoring.config import FlowSource
from bulkscan.mysqldb.connect import connection
from bulkscan.mysqldb.planner import Plan, plan_table
from bulkscan.mysqldb.results import ChunkOutcome, ResultStore
from bulkscan.mysqldb.scanner import ChunkStats, scan_chunk
from bulkscan.mysqldb.scanstate import ScanOptions, grouping_sql
from bulkscan.mysqldb.source import TableSpec, resolve_table

JOB = "member_scoring"


@dataclass(frozen=True)
class DayProducer:
    """One run's flow chunks: where they are read (`connect`, `spec`) and where their sums go."""

    connect: ConnectFactory
    spec: TableSpec
    results: ResultStore
    run_key: str


def day_flow_spec(
    conn: Connection, database: str, day: date | HourSlice, source: FlowSource | None = None
) -> TableSpec:
    """Flow rows of the business day `day` (created_at within its bounds in the calendar's zone, bound
    as parameters so the created_at index finds them), keyed by id, reading uid and score; given an
    HourSlice, only that hour of its day."""
    source = source or FlowSource()
    lo, hi = (day.lo, day.hi) if isinstance(day, HourSlice) else source.calendar.day_bounds(day)
    return resolve_table(
        conn,
        database,
        source.table,
        "id",
        ("uid", "score"),
        [["created_at", ">=", lo], ["created_at", "<", hi]],
    )


def plan_day(
    connect: ConnectFactory,
    database: str,
    day: date | HourSlice,
    rows_per_chunk: int,
    max_chunks: int,
    source: FlowSource | None = None,
) -> tuple[TableSpec, Plan]:
    """The day's (or hour's) id bounds come from the created_at index; chunks hold about rows_per_chunk
    flows each."""
    with connection(connect) as conn:
        spec = day_flow_spec(conn, database, day, source)
        return spec, plan_table(conn, spec, rows_per_chunk, max_chunks)


def produce_chunk(
    producer: DayProducer,
    chunk: Chunk,
    try_number: int = 1,
    *,
    processor: AggregateByKey | None = None,
    batch: AdaptiveBatch | None = None,
    options: ScanOptions | None = None,
) -> ChunkStats:
    """Sum one chunk's flows per uid (pushed down to the server) and store them under (run, chunk)."""
    proc = processor or AggregateByKey("uid", "score")
    if proc.group != "uid" or proc.value != "score":
        raise BulkscanInputError(f"a scoring producer sums score per uid, not {proc.value} per {proc.group}")
    ctx = ChunkContext(producer.run_key, chunk, try_number)
    stats = scan_chunk(producer.connect, producer.spec, proc, ctx, batch=batch, options=options)
    outcome = ChunkOutcome(JOB, producer.spec.name, stats.rows, stats.seconds, try_number, groups=proc.groups)
    producer.results.replace_chunk(producer.run_key, chunk, outcome)
    return stats


def produce_chunk_on_server(
    producer: DayProducer, chunk: Chunk, try_number: int = 1, statement_deadline_s: float | None = None
) -> tuple[int, int, float]:
    """The same partials as produce_chunk, computed by the server straight into the partial store.

    For flows living on the server that holds the partial store: the library's range_aggregate
    pushdown becomes one INSERT ... SELECT per chunk inside ResultStore.replace_chunk's READ COMMITTED
    transaction (replacing an earlier attempt; t_flow is read without locking it, so writers keep
    writing), and no row crosses the wire. A statement still running after `statement_deadline_s` is
    ended on the server (the chunk's time limit: ResultStore.replace_chunk). Returns (rows, groups, seconds).
    """
    spec = producer.spec
    sql = render(
        "common/range_aggregate",
        **spec.parts(
            group_expr=spec.column_sql(["uid"]),
            value=spec.column_sql(["score"]),
            hint=Fragment("SQL_BIG_RESULT"),
            grouping=grouping_sql(rollup=False),
        ),
    )
    _, where_params = spec.where()
    started = time.monotonic()
    outcome = ChunkOutcome(
        JOB,
        spec.name,
        rows=0,
        seconds=0.0,
        try_number=try_number,
        summary="server-side INSERT ... SELECT",
        from_query=(sql, (chunk.lo, chunk.hi, *where_params)),
    )
    rows, groups = producer.results.replace_chunk(producer.run_key, chunk, outcome, statement_deadline_s)
    return rows, groups, time.monotonic() - started


def count_day(connect: ConnectFactory, spec: TableSpec) -> int:
    """Flows of a day's spec in the flow table now (the created_at index answers it)."""
    with connection(connect) as conn:
        where, params = spec.where()
        cur = conn.cursor()
        cur.execute(render("common/row_count", table=spec.table_sql(), where=where), params)
        row = cur.fetchone()
        return int(row[0]) if row else 0
