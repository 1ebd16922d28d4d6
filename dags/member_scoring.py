"""
### member_scoring: incremental member tiers from a day's score flows

Every day (backfills run day by day, in order): the day's flows in `t_flow` are planned into ID-range
chunks from the `created_at` index (`plan`), each chunk is one mapped task (`scan_flows`, shown as
"2026-03-01 ids 1-250,000") that sums score per member on the server and stores the partial sums keyed
by run and chunk, and `apply` (the downstream aggregation) merges them into `flow_day_sum`, moves each
member's rolling-window total by the increment only (the new day in, the day leaving the window out),
assigns tiers and writes the day's actions (upgrade, downgrade, coupon, reward) to `member_action`,
with a ledger row per day, in one transaction.

* Rules (tiers, thresholds, window length, actions) live in `include/scoring.yaml`, validated on load.
* Re-running a day (late flows) recomputes only the members whose sums changed, including their actions
  on every later applied day: the tables end exactly as if the days had run once, in order.
* A day after a gap is refused in `plan` before anything is scanned. Mode *rebuild* recomputes
  `member_score` from `flow_day_sum`; mode *verify* checks the incremental state against it.
* Retry one failed chunk by clearing its map index: its partials replace the failed attempt's.
* With a shard topology (`shards`), every shard chunk is one more mapped producer (`scan_shards`,
  via the shard fan-out) writing per-member partials for the same day.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any

import pendulum
from airflow.sdk import dag, get_current_context, task

from bulkscan.glue.defaults import MAX_ACTIVE_TIS_PER_DAGRUN, default_args
from bulkscan.jobs.member_scoring import tasks as ms

_START = date.fromisoformat(os.environ.get("BULKSCAN_SCORING_START", "2026-01-01"))


@dag(
    dag_id="member_scoring",
    schedule="@daily",
    start_date=pendulum.datetime(_START.year, _START.month, _START.day, tz="UTC"),
    catchup=True,
    max_active_runs=1,
    default_args=default_args(),
    params=ms.params(),
    tags=["bulkscan", "mysql", "member-scoring", "incremental"],
    doc_md=__doc__,
)
def member_scoring() -> None:
    @task
    def plan() -> list[dict[str, Any]]:
        from airflow.configuration import conf

        ctx = get_current_context()
        planned = ms.plan(
            ctx["params"],
            ctx.get("data_interval_start"),
            ctx["dag_run"].run_id,
            conf.getint("core", "max_map_length", fallback=1024),
        )
        chunks = planned.pop("chunks")
        ctx["ti"].xcom_push(key="day", value={**planned, "chunk_count": len(chunks)})
        return chunks

    @task(
        map_index_template="{{ chunk_label }}",
        max_active_tis_per_dagrun=MAX_ACTIVE_TIS_PER_DAGRUN,
    )
    def scan_flows(chunk: dict[str, Any]) -> dict[str, Any]:
        ctx = get_current_context()
        ctx["chunk_label"] = chunk.get("label", f"chunk {chunk['index']}")  # type: ignore[typeddict-unknown-key]
        return ms.scan(chunk, ctx["params"], ctx["ti"].try_number)

    @task
    def plan_shards() -> list[dict[str, Any]]:
        ctx = get_current_context()
        planned = ctx["ti"].xcom_pull(task_ids="plan", key="day")
        return ms.plan_shards(ctx["params"], planned)

    @task(map_index_template="{{ unit_label }}", max_active_tis_per_dagrun=MAX_ACTIVE_TIS_PER_DAGRUN)
    def scan_shards(unit: dict[str, Any]) -> dict[str, Any]:
        ctx = get_current_context()
        ctx["unit_label"] = unit.get("label", "shard unit")  # type: ignore[typeddict-unknown-key]
        return ms.scan_shard(unit, ctx["params"], ctx["ti"].try_number)

    @task
    def plan_redis() -> list[dict[str, Any]]:
        ctx = get_current_context()
        planned = ctx["ti"].xcom_pull(task_ids="plan", key="day")
        return ms.plan_redis(ctx["params"], planned)

    @task(map_index_template="{{ node_label }}", max_active_tis_per_dagrun=MAX_ACTIVE_TIS_PER_DAGRUN)
    def scan_redis(node: dict[str, Any]) -> dict[str, Any]:
        ctx = get_current_context()
        ctx["node_label"] = node.get("ui_label", "redis node")  # type: ignore[typeddict-unknown-key]
        return ms.scan_redis(node, ctx["params"], ctx["ti"].try_number)

    @task(trigger_rule="none_failed")
    def apply(results: Any, shard_results: Any, redis_results: Any) -> dict[str, Any]:
        ctx = get_current_context()
        planned = ctx["ti"].xcom_pull(task_ids="plan", key="day")
        units = ctx["ti"].xcom_pull(task_ids="plan_shards") or []
        got = 0 if shard_results is None else len(shard_results)
        if got != len(units):
            raise RuntimeError(f"{got} of {len(units)} shard units reported; refusing to merge")
        nodes = ctx["ti"].xcom_pull(task_ids="plan_redis") or []
        folded = [] if not nodes or redis_results is None else list(redis_results)
        return ms.apply(planned, results, ctx["params"], units, nodes, folded)

    chunks = plan()
    units = plan_shards()
    nodes = plan_redis()
    chunks >> [units, nodes]
    apply(
        scan_flows.expand(chunk=chunks),
        scan_shards.expand(unit=units),
        scan_redis.expand(node=nodes),
    )


member_scoring()
