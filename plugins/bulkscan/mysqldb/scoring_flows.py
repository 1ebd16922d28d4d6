"""The flows of one day as a scan: planned by the time index, summed per member by the library scanner.

A producer writes its per-member partial sums into the ResultStore under (run, chunk), so a retried
chunk replaces its earlier attempt; shard tables and Redis nodes are further producers of the same run
(with their own chunk indices) and the day's apply merges them all.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from bulkscan.core.batching import AdaptiveBatch
from bulkscan.core.chunks import Chunk
from bulkscan.core.scoring import day_bounds
from bulkscan.errors import BulkscanInputError
from bulkscan.mysqldb.connect import ConnectFactory, close_quietly
from bulkscan.mysqldb.planner import Plan, plan_table
from bulkscan.mysqldb.results import ResultStore
from bulkscan.mysqldb.scanner import ChunkStats, scan_chunk
from bulkscan.mysqldb.source import TableSpec, resolve_table
from bulkscan.processors import AggregateByKey, ChunkContext
from bulkscan.sqlfiles import render

JOB = "member_scoring"


def day_flow_spec(conn: Any, database: str, day: date, table: str = "t_flow") -> TableSpec:
    """t_flow rows of `day` (created_at in [day, day + 1)), keyed by id, reading uid and score."""
    lo, hi = day_bounds(day)
    return resolve_table(
        conn,
        database,
        table,
        "id",
        ("uid", "score"),
        [["created_at", ">=", lo], ["created_at", "<", hi]],
    )


def plan_day(
    connect: ConnectFactory,
    database: str,
    day: date,
    target_rows: int,
    max_chunks: int,
    table: str = "t_flow",
) -> tuple[TableSpec, Plan]:
    """The day's id bounds come from the created_at index; chunks hold about target_rows flows each."""
    conn = connect()
    try:
        spec = day_flow_spec(conn, database, day, table)
        return spec, plan_table(conn, spec, target_rows, max_chunks)
    finally:
        close_quietly(conn)


def produce_chunk(
    connect: ConnectFactory,
    spec: TableSpec,
    chunk: Chunk,
    results: ResultStore,
    run_key: str,
    try_number: int = 1,
    *,
    processor: AggregateByKey | None = None,
    batch: AdaptiveBatch | None = None,
) -> ChunkStats:
    """Sum one chunk's flows per uid (pushed down to the server) and store them under (run, chunk)."""
    proc = processor or AggregateByKey("uid", "score")
    if proc.group != "uid" or proc.value != "score":
        raise BulkscanInputError(f"a scoring producer sums score per uid, not {proc.value} per {proc.group}")
    stats = scan_chunk(
        connect,
        spec,
        chunk,
        proc,
        ChunkContext(run_key, chunk, try_number),
        batch=batch,
    )
    results.replace_chunk(
        run_key,
        chunk,
        job=JOB,
        source=spec.name,
        rows=stats.rows,
        seconds=stats.seconds,
        try_number=try_number,
        groups=proc.groups,
    )
    return stats


def read_committed(connect: ConnectFactory) -> ConnectFactory:
    """Connections whose INSERT ... SELECT reads t_flow without locking it (writers keep writing)."""

    def factory() -> Any:
        conn = connect()
        conn.cursor().execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        return conn

    return factory


def produce_chunk_on_server(
    connect: ConnectFactory,
    spec: TableSpec,
    chunk: Chunk,
    results: ResultStore,
    run_key: str,
    try_number: int = 1,
) -> tuple[int, int, float]:
    """The same partials as produce_chunk, computed by the server straight into the partial store.

    For flows living on the server that holds the partial store: the library's range_aggregate
    pushdown becomes one INSERT ... SELECT per chunk inside ResultStore.replace_chunk's transaction
    (replacing an earlier attempt), so no row crosses the wire. Returns (rows, groups, seconds).
    """
    sql = render("range_aggregate", **spec.parts(group_expr=spec.column_sql(["uid"]), value=spec.column_sql(["score"])))
    _, where_params = spec.where()
    started = time.monotonic()
    store = ResultStore(read_committed(results.connect), results.schema)
    rows, groups = store.replace_chunk(
        run_key,
        chunk,
        job=JOB,
        source=spec.name,
        rows=0,
        seconds=0.0,
        try_number=try_number,
        summary="server-side INSERT ... SELECT",
        from_query=(sql, (chunk.lo, chunk.hi, *where_params)),
    )
    return rows, groups, time.monotonic() - started
