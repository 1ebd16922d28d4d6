"""Task bodies of `bulkscan_table_scan`: plan, scan one chunk, split the oversize ones, summarize.

A chunk whose real size turns out far above its planned one (an estimate gone wrong: stale statistics,
a bulk load into one range after planning) stops after `oversize_limit` rows (ChunkResult.rest_hi);
`split_oversize` walks each such rest into exact chunks of the target size, which a second mapped task
(`scan_rest`) scans in parallel. `summarize` reconciles both sets as one plan.

The DAG file only wires these together; the rules are in `settings` (and bulkscan.core), the I/O in
bulkscan.mysqldb.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, TypedDict

from bulkscan.core.batching import AdaptiveBatch
from bulkscan.core.chunks import (
    Bound,
    Chunk,
    ChunkPayload,
    oversize_limit,
    renumbered,
    wire_bound,
)
from bulkscan.core.keys import KeyChunk, KeyChunkPayload
from bulkscan.core.processors import AggregateByKey, ArrowProcessor, ChunkContext, Processor
from bulkscan.core.report import chunk_table
from bulkscan.errors import ReconcileError
from bulkscan.glue.connections import check_arrow_connection, connect_factory, connectorx_uri, reachable
from bulkscan.glue.defaults import fail_fast_on_bad_input
from bulkscan.glue.time_limit import kill_after, own_time_limit, planned_time_limits, time_limit
from bulkscan.jobs.table_scan.settings import JOB, TableScanSettings
from bulkscan.mysqldb.arrow import refuse_tuple_key
from bulkscan.mysqldb.checkpoint import ChunkCheckpoint
from bulkscan.mysqldb.connect import connection
from bulkscan.mysqldb.keyestimate import plan_tuple_key
from bulkscan.mysqldb.planner import count_key_range, count_range, plan_range, plan_table
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
    rest_hi: Bound | None  # the planned end of a chunk that stopped oversize at `hi`: [hi, rest_hi) is split off


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
    if isinstance(processor, ArrowProcessor):
        check_arrow_connection(settings.conn_id)
    connect = connect_factory(settings.conn_id, settings.database)
    with connection(reachable(connect, settings.conn_id)) as conn:
        spec = _spec(settings, conn, processor)
        if isinstance(processor, ArrowProcessor):
            refuse_tuple_key(spec)
        results_store(settings).ensure()
        payloads: list[AnyChunkPayload]
        if spec.tuple_key:
            keyed = plan_tuple_key(conn, spec, settings.rows_per_chunk, settings.max_chunks, settings.planning)
            total, payloads = sum(c.rows or 0 for c in keyed.chunks), [k.payload() for k in keyed.chunks]
            estimated, estimates = keyed.planning == "estimate", keyed.estimates
        else:
            planned = plan_table(conn, spec, settings.rows_per_chunk, settings.max_chunks, settings.planning)
            total, payloads = planned.total_rows, [c.payload() for c in planned.chunks]
            estimated, estimates = planned.planning == "estimate", planned.estimates
        slowest = results_store(settings).slowest_rate(JOB, settings.source(spec.name))
        payloads = with_time_limits(payloads, settings, slowest)
    log.info(
        "planned %s%s rows of %s on (%s) into %d chunks (%s rows per chunk target) by %s",
        "about " if estimated else "",
        f"{total:,}",
        spec.name,
        ", ".join(spec.keys),
        len(payloads),
        f"{settings.rows_per_chunk:,}",
        f"{estimates} range estimates" if estimated else "a walk of the key index",
    )
    return payloads


def with_time_limits(
    payloads: list[AnyChunkPayload], settings: TableScanSettings, slowest_s_per_row: float | None
) -> list[AnyChunkPayload]:
    """Each chunk's own time limit, derived from its planned rows and the table's last run (or the
    form's bound, before a first run), logged once for the plan."""
    limits = planned_time_limits(
        [p["rows"] for p in payloads], slowest_s_per_row, settings.chunk_time_limit_s, "chunk", log
    )
    for p, limit in zip(payloads, limits, strict=True):
        p["time_limit_s"] = limit
    return payloads


def scan(
    payload: Mapping[str, Any], params: Mapping[str, Any], run_key: str, try_number: int, split: bool = True
) -> ChunkResult:
    """Scan one chunk under the run's parallel cap; store its result keyed by run and chunk.

    With `split`, an integer-key chunk stops once it has read `oversize_limit` rows and hands the rest of
    its range on (`rest_hi`); the pieces of a split rest (`split=False`) are exact and run to their end.
    """
    settings = TableScanSettings.from_params(params)
    chunk = chunk_of(payload)
    processor = settings.make_processor()
    connect = connect_factory(settings.conn_id, settings.database)
    with connection(reachable(connect, settings.conn_id)) as conn:
        spec = _spec(settings, conn, processor)
    ctx = ChunkContext(run_key, chunk, try_number)
    store = results_store(settings)
    limit = own_time_limit(payload, settings.chunk_time_limit_s)
    options = ScanOptions(
        checkpoint=ChunkCheckpoint(store, run_key, chunk, try_number),
        count_range=True,
        arrow_uri=connectorx_uri(settings.conn_id, settings.database)
        if isinstance(processor, ArrowProcessor)
        else None,
        stop_after=oversize_limit(chunk.rows, settings.rows_per_chunk) if split and isinstance(chunk, Chunk) else None,
    )
    with host_slot(connect, f"scan:{run_key}", settings.max_parallel_chunks):
        pushdown = isinstance(processor, AggregateByKey) and processor.pushdown
        target = settings.batch_seconds
        if isinstance(processor, ArrowProcessor):
            batch = arrow_batch(target)
        else:
            batch = pushdown_batch(target) if pushdown else AdaptiveBatch(target_seconds=target)
        # sampled once the host slot is held: the task's timer may have run down while the chunk waited
        options = replace(options, statement_deadline_s=kill_after(limit))
        with time_limit(limit, f"chunk {chunk.index} ({chunk.label})"):
            stats = scan_chunk(connect, spec, processor, ctx, batch=batch, options=options)
    planned_hi = chunk.hi if isinstance(chunk, Chunk) else None
    if isinstance(chunk, Chunk) and stats.rest_from is not None:
        log.warning(
            "chunk %d (%s) is far above its planned %s rows: it stopped after %s rows at %s; the rest of its "
            "range is split into chunks of their own (split_oversize, scan_rest)",
            chunk.index,
            chunk.label,
            f"{chunk.rows:,}" if chunk.rows is not None else "(unknown)",
            f"{stats.rows:,}",
            f"{stats.rest_from:,}",
        )
        chunk = replace(chunk, hi=stats.rest_from)  # what this chunk covered, as stored and reconciled
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
        rest_hi=wire_bound(planned_hi) if planned_hi is not None and stats.rest_from is not None else None,
    )


@fail_fast_on_bad_input
def split_oversize(
    results: Sequence[Mapping[str, Any]], params: Mapping[str, Any], max_map_length: int
) -> list[ChunkPayload]:
    """The rests of the chunks that stopped oversize, each walked into exact chunks of the target size,
    indexed on after the plan's chunks (at most `max_map_length` in all, the pieces then bigger). No
    query at all when no chunk stopped, the usual case."""
    rests = sorted((int(r["hi"]), int(r["rest_hi"]), int(r["index"])) for r in results if r.get("rest_hi") is not None)
    if not rests:
        return []
    settings = TableScanSettings.from_params(params)
    processor = settings.make_processor()
    connect = connect_factory(settings.conn_id, settings.database)
    budget = max(1, min(max_map_length, settings.max_chunks) // len(rests))
    pieces: list[ChunkPayload] = []
    with connection(reachable(connect, settings.conn_id)) as conn:
        spec = _spec(settings, conn, processor)
        for lo, hi, index in rests:
            walked = [c for c in plan_range(conn, spec, lo, hi, settings.rows_per_chunk, budget) if c.rows]
            split = renumbered(walked, len(results) + len(pieces))
            log.info(
                "chunk %d's rest, ids %s-%s: %s rows walked into %d chunks",
                index,
                f"{lo:,}",
                f"{hi - 1:,}",
                f"{sum(c.rows or 0 for c in split):,}",
                len(split),
            )
            pieces += [c.payload(f"{c.label} (rest of {index})") for c in split]
    return pieces


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
        "split_chunks": [r["index"] for r in out if r.get("rest_hi") is not None],
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
