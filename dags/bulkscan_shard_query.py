"""
### bulkscan_shard_query: one query over a table split across many MySQL hosts

The topology (`include/shards.json` or the *Shard topology* param) names each host by its Airflow
connection id and its shard tables in the compact `table_000-015` form. `plan` validates it (overlaps,
duplicates, bad ranges, unknown connection ids: errors before any query), checks every table exists
and splits big shards into ID-range chunks. `scan_shard` is one mapped task per shard table and per
chunk of a big one (or per pack of *Tables or chunks per task* of one host), shown as
"host-conn / table_017". `merge` reconciles (every topology table answered exactly once) and folds the
per-shard partial sums into `bulkscan_result`.

* At most *Maximum queries per host* scans run against one server at once (a slot semaphore held on
  that server), however many shard tasks are ready.
* A host that is down fails only its own tables, naming host and table. Once it is back, clear just
  the failed map indexes (and `merge`): their earlier output is replaced, the result is exact.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, get_current_context, task

from bulkscan.core.values import run_key
from bulkscan.glue import assets
from bulkscan.glue.defaults import DAGRUN_TIMEOUT, POOL_SHARDS, default_args, mapped, max_map_length
from bulkscan.jobs.shard_query import tasks as sq
from bulkscan.jobs.shard_query.form import params
from bulkscan.jobs.shard_query.packing import AnswerPayload, UnitPayload


@dag(
    dag_id="bulkscan_shard_query",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=DAGRUN_TIMEOUT,
    default_args=default_args(),
    params=params(),
    tags=["bulkscan", "mysql", "shards"],
    doc_md=__doc__,
)
def bulkscan_shard_query() -> None:
    @task
    def plan() -> list[UnitPayload]:
        return sq.plan(get_current_context()["params"], max_map_length())

    @task(**mapped(POOL_SHARDS, "shard_label"))
    def scan_shard(unit: UnitPayload) -> list[AnswerPayload]:
        ctx = get_current_context()
        ctx["shard_label"] = unit["label"]  # type: ignore[typeddict-unknown-key]
        ti = ctx["ti"]
        return sq.scan(unit, ctx["params"], run_key(ti.dag_id, ti.run_id), ti.try_number)

    @task(outlets=[assets.SHARD_QUERY_RESULTS])
    def merge(units: list[UnitPayload], results: list[list[AnswerPayload]]) -> dict[str, Any]:
        ctx = get_current_context()
        ti = ctx["ti"]
        # One slice of the lazy XCom sequence: one request, and no probing past its end.
        summary = sq.summarize(units, results[: len(results)], ctx["params"], run_key(ti.dag_id, ti.run_id))
        assets.emit(ctx, assets.SHARD_QUERY_RESULTS, summary)
        return summary

    units = plan()
    merge(units, scan_shard.expand(unit=units))  # type: ignore[arg-type]  # XComArgs resolve at run time


bulkscan_shard_query()
