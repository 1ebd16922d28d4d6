"""Airflow side of the chunked ID-range scan: Params, and the plan / scan / summarize task bodies.

The DAG file only wires these together; all the work is in bulkscan.mysqldb and bulkscan.core.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from bulkscan.core.batching import AdaptiveBatch
from bulkscan.core.chunks import Chunk
from bulkscan.core.identifiers import validate_identifier
from bulkscan.errors import BulkscanInputError, ReconcileError
from bulkscan.glue import params as fields
from bulkscan.glue.defaults import fail_fast_on_bad_input
from bulkscan.glue.mysql_conn import check_reachable, close_quietly, connect_factory
from bulkscan.mysqldb.planner import count_range, plan_table
from bulkscan.mysqldb.results import ResultStore
from bulkscan.mysqldb.scanner import pushdown_batch, scan_chunk
from bulkscan.mysqldb.slots import host_slot
from bulkscan.mysqldb.source import TableSpec, resolve_table
from bulkscan.processors import AggregateByKey, ChunkContext, Processor, load_processor

log = logging.getLogger(__name__)
JOB = "table_scan"


def params() -> dict[str, Any]:
    """The trigger form: every field typed, bounded and explained."""
    from airflow.sdk import Param

    return {
        "conn_id": Param(
            "bulkscan_mysql",
            type="string",
            minLength=1,
            title="MySQL connection id",
            description="Airflow connection of the server holding the table.",
        ),
        # Optional fields are nullable with a null default: the UI marks a non-nullable field as
        # required and will not submit the form while it is empty.
        "database": Param(
            None,
            type=["null", "string"],
            title="Database",
            description="Schema of the table; empty means the connection's default schema.",
        ),
        "table": Param(
            "events",
            type="string",
            pattern=fields.IDENT_PATTERN,
            title="Table",
            description="Table to scan. Checked against information_schema before anything runs.",
        ),
        "key_column": fields.key_column("Indexed integer column (usually the primary key) the table is chunked on."),
        "filters": fields.filters(""),
        "rows_per_chunk": Param(
            1_250_000,
            type="integer",
            minimum=1_000,
            maximum=100_000_000,
            title="Rows per chunk",
            description="Target rows in one mapped task (raised if the chunk count would exceed 'Maximum chunks').",
        ),
        "max_chunks": Param(
            64,
            type="integer",
            minimum=1,
            maximum=1024,
            title="Maximum chunks",
            description="Upper bound on mapped scan tasks (Airflow's max_map_length is 1024).",
        ),
        "max_parallel_chunks": Param(
            4,
            type="integer",
            minimum=1,
            maximum=64,
            title="Maximum parallel chunks",
            description="At most this many chunks query the server at once in this run "
            "(a slot semaphore held on the server), whatever the workers.",
        ),
        "batch_seconds": fields.batch_seconds(),
        **fields.processor_fields("user_id", "amount"),
        "results_conn_id": Param(
            None,
            type=["null", "string"],
            title="Results connection id",
            description="Where bulkscan writes its own result tables (empty: same as the source).",
        ),
        "results_schema": fields.results_schema(),
    }


class ScanSettings:
    """Params, validated once: a bad value is an input error before any query runs."""

    def __init__(self, p: Mapping[str, Any]):
        self.conn_id = str(p["conn_id"])
        self.database = str(p.get("database") or "") or None
        self.table = validate_identifier(p["table"], "table")
        self.key = validate_identifier(p["key_column"], "key column")
        self.group = validate_identifier(p["group_column"], "group column") if p.get("group_column") else None
        self.value = validate_identifier(p["value_column"], "value column") if p.get("value_column") else None
        self.filters = list(p.get("filters") or [])
        self.rows_per_chunk = _positive_int(p["rows_per_chunk"], "rows per chunk")
        self.max_chunks = _positive_int(p["max_chunks"], "maximum chunks")
        self.max_parallel = _positive_int(p["max_parallel_chunks"], "maximum parallel chunks")
        self.batch_seconds = float(p.get("batch_seconds") or 0.5)
        self.processor = str(p.get("processor") or "aggregate")
        self.processor_args = dict(p.get("processor_args") or {})
        self.results_conn_id = str(p.get("results_conn_id") or "") or self.conn_id
        self.results_schema = validate_identifier(p.get("results_schema") or "bulkscan", "results schema")

    def make_processor(self) -> Processor:
        if self.processor == "aggregate":
            return load_processor("aggregate", group=self.group, value=self.value)
        if self.processor == "count":
            return load_processor("count")
        return load_processor(self.processor, **self.processor_args)

    def spec(self, conn: Any, processor: Processor) -> TableSpec:
        return resolve_table(conn, self.database, self.table, self.key, processor.columns or (), self.filters)

    def source(self, spec: TableSpec) -> str:
        return f"{self.conn_id}:{spec.name}"


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BulkscanInputError(f"{what} must be a positive integer, got {value!r}")
    return value


def run_key(dag_id: str, run_id: str) -> str:
    return f"{dag_id}/{run_id}"


@fail_fast_on_bad_input
def plan(p: Mapping[str, Any], max_map_length: int) -> list[dict[str, Any]]:
    """Validate everything, then plan. Returns small chunk dicts (the mapped tasks' input)."""
    s = ScanSettings(p)
    if s.max_chunks > max_map_length:
        raise BulkscanInputError(f"maximum chunks {s.max_chunks} is above Airflow's max_map_length {max_map_length}")
    processor = s.make_processor()
    connect = connect_factory(s.conn_id, s.database)
    conn = check_reachable(connect, s.conn_id)
    try:
        spec = s.spec(conn, processor)
        results_connect = connect_factory(s.results_conn_id)
        ResultStore(results_connect, s.results_schema).ensure()
        planned = plan_table(conn, spec, s.rows_per_chunk, s.max_chunks)
    finally:
        close_quietly(conn)
    log.info(
        "planned %s rows of %s into %d chunks (%s rows per chunk target)",
        f"{planned.total_rows:,}",
        spec.name,
        len(planned.chunks),
        f"{s.rows_per_chunk:,}",
    )
    return [{**c.as_dict(), "label": c.label} for c in planned.chunks]


def scan(chunk_data: Mapping[str, Any], p: Mapping[str, Any], key: str, try_number: int) -> dict[str, Any]:
    """Scan one chunk under the run's parallel cap; store its result keyed by run and chunk."""
    s = ScanSettings(p)
    chunk = Chunk.from_dict(dict(chunk_data))
    processor = s.make_processor()
    connect = connect_factory(s.conn_id, s.database)
    conn = check_reachable(connect, s.conn_id)
    try:
        spec = s.spec(conn, processor)
    finally:
        close_quietly(conn)
    ctx = ChunkContext(key, chunk, try_number)
    with host_slot(connect, f"scan:{key}", s.max_parallel):
        pushdown = isinstance(processor, AggregateByKey) and processor.pushdown
        batch = pushdown_batch(s.batch_seconds) if pushdown else AdaptiveBatch(target_seconds=s.batch_seconds)
        stats = scan_chunk(connect, spec, chunk, processor, ctx, batch=batch)
    groups = processor.groups if isinstance(processor, AggregateByKey) else None
    ResultStore(connect_factory(s.results_conn_id), s.results_schema).replace_chunk(
        key,
        chunk,
        job=JOB,
        source=s.source(spec),
        rows=stats.rows,
        seconds=stats.seconds,
        try_number=try_number,
        groups=groups,
        summary=json.dumps(stats.summary, default=str),
    )
    return {
        "index": chunk.index,
        "lo": chunk.lo,
        "hi": chunk.hi,
        "planned_rows": chunk.rows,
        "rows": stats.rows,
        "batches": stats.batches,
        "seconds": round(stats.seconds, 3),
        "reconnects": stats.reconnects,
        "try_number": try_number,
        "summary": stats.summary,
    }


def summarize(results: Iterable[Mapping[str, Any]], p: Mapping[str, Any], key: str) -> dict[str, Any]:
    """Reconcile every chunk against an independent count of its range, then merge the partial sums."""
    s = ScanSettings(p)
    processor = s.make_processor()
    connect = connect_factory(s.conn_id, s.database)
    conn = check_reachable(connect, s.conn_id)
    out = sorted((dict(r) for r in results), key=lambda r: r["index"])
    try:
        spec = s.spec(conn, processor)
        indices = [r["index"] for r in out]
        if indices != list(range(len(out))):
            raise ReconcileError(f"chunk results are not exactly one per chunk: indices {indices}")
        problems = []
        for r in out:
            expected = count_range(conn, spec, r["lo"], r["hi"])
            if expected != r["rows"]:
                problems.append(
                    f"chunk {r['index']} (ids {r['lo']:,}-{r['hi'] - 1:,}) scanned {r['rows']:,} rows "
                    f"but its range holds {expected:,}"
                )
    finally:
        close_quietly(conn)
    if problems:
        raise ReconcileError("; ".join(problems))
    store = ResultStore(connect_factory(s.results_conn_id), s.results_schema)
    stored = store.chunks(key)
    if [c["chunk_index"] for c in stored] != list(range(len(out))):
        raise ReconcileError(f"stored chunk rows {[c['chunk_index'] for c in stored]} do not match {len(out)} chunks")
    rows = sum(r["rows"] for r in out)
    merged = store.merge(key, job=JOB, source=s.source(spec), chunks=len(out), rows=rows)
    summary = {
        "run_key": key,
        "table": spec.name,
        "chunks": len(out),
        "rows": rows,
        "groups": merged.groups,
        "value_sum": str(merged.value_sum) if merged.value_sum is not None else None,
        "retried_chunks": [r["index"] for r in out if r["try_number"] > 1],
        "reconnects": sum(r["reconnects"] for r in out),
        "slowest_chunk_s": max((r["seconds"] for r in out), default=0.0),
    }
    log.info("bulkscan summary: %s", json.dumps(summary))
    return summary
