"""Task bodies of `bulkscan_table_scan`: plan, scan one chunk, summarize.

The DAG file only wires these together; the rules are in `settings` (and bulkscan.core), the I/O in
bulkscan.mysqldb.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from bulkscan.core.batching import AdaptiveBatch
from bulkscan.core.chunks import Bound, Chunk, ChunkPayload, wire_bound
from bulkscan.core.keys import KeyChunk, KeyChunkPayload
from bulkscan.core.processors import AggregateByKey, ArrowProcessor, ChunkContext, Processor
from bulkscan.core.report import chunk_table
from bulkscan.errors import ReconcileError
from bulkscan.glue.connections import connect_factory, connectorx_uri, reachable
from bulkscan.glue.defaults import fail_fast_on_bad_input
from bulkscan.jobs.table_scan.settings import JOB, TableScanSettings
from bulkscan.mysqldb.checkpoint import ChunkCheckpoint
from bulkscan.mysqldb.connect import connection
from bulkscan.mysqldb.planner import count_key_range, count_range, plan_keys, plan_table
from bulkscan.mysqldb.results import ChunkOutcome, ResultStore
from bulkscan.mysqldb.scanner import ScanOptions, arrow_batch, pushdown_batch, scan_chunk
from bulkscan.mysqldb.slots import host_slot
from bulkscan.mysqldb.source import TableSpec, resolve_table

log = logging.getLogger(__name__)


AnyChunkPayload = ChunkPayload | KeyChunkPayload


class ChunkResult(TypedDict):
    """What a scanned chunk reports through XCom (the rows themselves are in the result tables).

    `lo`/`hi` are an integer key's bounds (None for a composite or string key, whose chunk is `key_chunk`).
    """

    index: int
    lo: Bound | None
    hi: Bound | None
    key_chunk: KeyChunkPayload | None
    label: str
    planned_rows: int | None
    rows: int
    batches: int
    seconds: float
    reconnects: int
    try_number: int
    summary: dict[str, Any]
    range_rows: int | None  # the sum of the batches' COUNT(*)s, each in its batch's snapshot; None: summarize counts


def _spec(settings: TableScanSettings, conn: Any, processor: Processor) -> TableSpec:
    return resolve_table(
        conn, settings.database, settings.table, settings.key_columns, processor.columns or (), settings.filters
    )


def results_store(settings: TableScanSettings) -> ResultStore:
    return ResultStore(connect_factory(settings.results_conn), settings.results_schema)


def chunk_of(payload: Mapping[str, Any]) -> Chunk | KeyChunk:
    """The chunk a payload describes: a tuple-key chunk names its key columns."""
    return KeyChunk.from_dict(payload) if "columns" in payload else Chunk.from_dict(payload)


@fail_fast_on_bad_input
def plan(params: Mapping[str, Any], max_map_length: int) -> list[AnyChunkPayload]:
    """Validate everything, then plan. Returns small chunk dicts (the mapped tasks' input)."""
    settings = TableScanSettings.from_params(params)
    settings.check_fan_out(max_map_length)
    processor = settings.make_processor()
    connect = connect_factory(settings.conn_id, settings.database)
    with connection(reachable(connect, settings.conn_id)) as conn:
        spec = _spec(settings, conn, processor)
        results_store(settings).ensure()
        payloads: list[AnyChunkPayload]
        if spec.tuple_key:
            keyed = plan_keys(conn, spec, settings.rows_per_chunk, settings.max_chunks)
            total, payloads = sum(c.rows or 0 for c in keyed), [k.payload() for k in keyed]
        else:
            planned = plan_table(conn, spec, settings.rows_per_chunk, settings.max_chunks, settings.planning)
            total, payloads = planned.total_rows, [c.payload() for c in planned.chunks]
            how = (
                f"{planned.estimates} range estimates" if planned.planning == "estimate" else "a walk of the key index"
            )
    log.info(
        "planned %s%s rows of %s on (%s) into %d chunks (%s rows per chunk target) by %s",
        "about " if not spec.tuple_key and planned.planning == "estimate" else "",
        f"{total:,}",
        spec.name,
        ", ".join(spec.keys),
        len(payloads),
        f"{settings.rows_per_chunk:,}",
        "a walk of the key index" if spec.tuple_key else how,
    )
    return payloads


def scan(payload: Mapping[str, Any], params: Mapping[str, Any], run_key: str, try_number: int) -> ChunkResult:
    """Scan one chunk under the run's parallel cap; store its result keyed by run and chunk."""
    settings = TableScanSettings.from_params(params)
    chunk = chunk_of(payload)
    processor = settings.make_processor()
    connect = connect_factory(settings.conn_id, settings.database)
    with connection(reachable(connect, settings.conn_id)) as conn:
        spec = _spec(settings, conn, processor)
    ctx = ChunkContext(run_key, chunk, try_number)
    store = results_store(settings)
    options = ScanOptions(
        checkpoint=ChunkCheckpoint(store, run_key, chunk, try_number),
        count_range=True,
        arrow_uri=connectorx_uri(settings.conn_id, settings.database)
        if isinstance(processor, ArrowProcessor)
        else None,
    )
    with host_slot(connect, f"scan:{run_key}", settings.max_parallel_chunks):
        pushdown = isinstance(processor, AggregateByKey) and processor.pushdown
        target = settings.batch_seconds
        if isinstance(processor, ArrowProcessor):
            batch = arrow_batch(target)
        else:
            batch = pushdown_batch(target) if pushdown else AdaptiveBatch(target_seconds=target)
        stats = scan_chunk(connect, spec, processor, ctx, batch=batch, options=options)
    outcome = ChunkOutcome(
        JOB,
        settings.source(spec.name),
        stats.rows,
        stats.seconds,
        try_number,
        summary=json.dumps(stats.summary, default=str),
        checkpointed=True,  # the partial sums went in batch by batch, with each checkpoint
    )
    store.replace_chunk(run_key, chunk, outcome)
    return ChunkResult(
        index=chunk.index,
        lo=wire_bound(chunk.lo) if isinstance(chunk, Chunk) else None,
        hi=wire_bound(chunk.hi) if isinstance(chunk, Chunk) else None,
        key_chunk=chunk.payload() if isinstance(chunk, KeyChunk) else None,
        label=chunk.label,
        planned_rows=chunk.rows,
        rows=stats.rows,
        batches=stats.batches,
        seconds=round(stats.seconds, 3),
        reconnects=stats.reconnects,
        try_number=try_number,
        summary=stats.summary,
        range_rows=stats.range_rows,
    )


def reconcile(conn: Any, spec: TableSpec, results: Sequence[Mapping[str, Any]]) -> int:
    """Every chunk exactly once, and each one's rows equal to an independent count of its range.

    The count is the one the chunk's scan took as it went (`range_rows`: each batch's key range counted
    in the batch's own snapshot), so no second pass over the table; a chunk without one (a try resumed
    from a checkpoint that kept no count) is counted here instead. Returns how many were counted here.
    """
    indices = [r["index"] for r in results]
    if indices != list(range(len(results))):
        raise ReconcileError(f"chunk results are not exactly one per chunk: indices {indices}")
    problems, recounted = [], 0
    for r in results:
        key_chunk = r.get("key_chunk")
        expected = r.get("range_rows")
        if key_chunk:
            chunk = KeyChunk.from_dict(key_chunk)
            label = chunk.label
            if expected is None:
                expected, recounted = count_key_range(conn, spec, chunk), recounted + 1
        else:
            lo, hi = int(r["lo"]), int(r["hi"])
            label = Chunk(0, lo, hi).label
            if expected is None:
                expected, recounted = count_range(conn, spec, lo, hi), recounted + 1
        if expected != r["rows"]:
            problems.append(f"chunk {r['index']} ({label}) scanned {r['rows']:,} rows but its range holds {expected:,}")
    if problems:
        raise ReconcileError("; ".join(problems))
    return recounted


def summarize(results: Sequence[Mapping[str, Any]], params: Mapping[str, Any], run_key: str) -> dict[str, Any]:
    """Reconcile every chunk against an independent count of its range, then merge the partial sums."""
    settings = TableScanSettings.from_params(params)
    processor = settings.make_processor()
    connect = connect_factory(settings.conn_id, settings.database)
    out = sorted((dict(r) for r in results), key=lambda r: r["index"])
    with connection(reachable(connect, settings.conn_id)) as conn:
        spec = _spec(settings, conn, processor)
        recounted = reconcile(conn, spec, out)
    store = results_store(settings)
    stored = store.chunks(run_key)
    if [c["chunk_index"] for c in stored] != list(range(len(out))):
        raise ReconcileError(f"stored chunk rows {[c['chunk_index'] for c in stored]} do not match {len(out)} chunks")
    rows = sum(r["rows"] for r in out)
    merged = store.merge(run_key, job=JOB, source=settings.source(spec.name), chunks=len(out), rows=rows)
    summary = {
        "run_key": run_key,
        "table": spec.name,
        "chunks": len(out),
        "rows": rows,
        "groups": merged.groups,
        "value_sum": str(merged.value_sum) if merged.value_sum is not None else None,
        "retried_chunks": [r["index"] for r in out if r["try_number"] > 1],
        "reconnects": sum(r["reconnects"] for r in out),
        "slowest_chunk_s": max((r["seconds"] for r in out), default=0.0),
        "recounted_chunks": recounted,
    }
    log.info(
        "bulkscan summary of %s: %d chunks, %s rows, %s groups, retried chunks %s\n%s",
        spec.name,
        len(out),
        f"{rows:,}",
        f"{merged.groups:,}",
        summary["retried_chunks"] or "none",
        chunk_table(stored),
    )
    return summary
