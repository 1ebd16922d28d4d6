"""
### bulkscan_table_scan: chunked ID-range scan of a big MySQL table

The table is planned into gap-aware key ranges (`plan`), each range is one mapped task
(`scan_chunk`, shown as "ids 1-2,500,000", or "shop 17 id 5,001 - shop 19 id 12" for a composite
key) that streams its rows in keyset batches in bounded memory. A chunk that turns out far above its
planned size (the plan's estimates were wrong) stops at twice that and `split_oversize` walks the rest of its
range into exact chunks, scanned by `scan_rest` (none, and no query, on a run where every chunk fitted);
`summarize` reconciles every chunk against an independent count of its range and merges the
per-chunk partial sums into `bulkscan.bulkscan_result`.

* Retry one failed chunk by clearing just its map index: the others are not re-run, and its earlier
  output is replaced (results are keyed by run and chunk).
* At most *Maximum parallel chunks* chunks query the server at once (a slot semaphore on the server);
  one run at a time (`max_active_runs=1`): a second trigger waits.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, get_current_context, task

from bulkscan.core.values import run_key
from bulkscan.glue import assets
from bulkscan.glue.defaults import DAGRUN_TIMEOUT, POOL_MYSQL, default_args, mapped, max_map_length
from bulkscan.jobs.table_scan import tasks as ts
from bulkscan.jobs.table_scan.form import params


@dag(
    dag_id="bulkscan_table_scan",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=DAGRUN_TIMEOUT,
    default_args=default_args(),
    params=params(),
    tags=["bulkscan", "mysql", "chunked-scan"],
    doc_md=__doc__,
)
def bulkscan_table_scan() -> None:
    @task
    def plan() -> list[ts.AnyChunkPayload]:
        return ts.plan(get_current_context()["params"], max_map_length())

    @task(**mapped(POOL_MYSQL, "chunk_label"))
    def scan_chunk(chunk: ts.AnyChunkPayload, split: bool = True) -> ts.ChunkResult:
        ctx = get_current_context()
        ctx["chunk_label"] = chunk["label"]  # type: ignore[typeddict-unknown-key]
        ti = ctx["ti"]
        return ts.scan(chunk, ctx["params"], run_key(ti.dag_id, ti.run_id), ti.try_number, split)

    @task
    def split_oversize(results: list[ts.ChunkResult]) -> list[ts.ChunkPayload]:
        # One slice of the lazy XCom sequence: one request, and no probing past its end.
        return ts.split_oversize(results[: len(results)], get_current_context()["params"], max_map_length())

    @task(trigger_rule="none_failed", outlets=[assets.TABLE_SCAN_RESULTS])
    def summarize(results: list[ts.ChunkResult], rest: list[ts.ChunkResult]) -> dict[str, Any]:
        ctx = get_current_context()
        ti = ctx["ti"]
        every = [*results[: len(results)], *rest[: len(rest)]]
        summary = ts.summarize(every, ctx["params"], run_key(ti.dag_id, ti.run_id))
        assets.emit(ctx, assets.TABLE_SCAN_RESULTS, summary)
        return summary

    scanned = scan_chunk.expand(chunk=plan())
    rest = scan_chunk.override(task_id="scan_rest").partial(split=False).expand(chunk=split_oversize(scanned))
    summarize(scanned, rest)


bulkscan_table_scan()
