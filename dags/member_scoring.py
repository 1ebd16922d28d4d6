"""
### member_scoring: incremental member tiers from a day's score flows

Every business day, once it has closed in the shop's zone (`calendar` in include/scoring.yaml: the zone,
what `created_at` holds, a grace period for late writers; backfills run day by day, in order): the
day's flows in `t_flow` are planned into ID-range
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
* Producers sit in task groups: `flows` (the day's chunks of t_flow), `shards` (with a shard topology,
  every shard chunk is one more mapped producer via the shard fan-out) and `redis` (with a Redis points
  connection, one producer per primary); all write per-member partials for the same day.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any

import pendulum
from airflow.sdk import TaskGroup, dag, get_current_context, task

from bulkscan.core.chunks import ChunkPayload
from bulkscan.glue import assets
from bulkscan.glue.defaults import (
    DAGRUN_TIMEOUT,
    POOL_MYSQL,
    POOL_REDIS,
    POOL_SHARDS,
    SCORING_DEADLINE_MINUTES,
    default_args,
    mapped,
    max_map_length,
)
from bulkscan.glue.notify import scoring_deadline
from bulkscan.jobs.member_scoring import points_tasks, shard_tasks
from bulkscan.jobs.member_scoring import tasks as ms
from bulkscan.jobs.member_scoring.form import params
from bulkscan.jobs.member_scoring.settings import DayPlan

_START = date.fromisoformat(os.environ.get("BULKSCAN_SCORING_START", "2026-01-01"))


@dag(
    dag_id="member_scoring",
    schedule=assets.scoring_schedule(ms.schedule()),
    start_date=pendulum.datetime(_START.year, _START.month, _START.day, tz="UTC"),
    catchup=True,
    max_active_runs=1,
    dagrun_timeout=DAGRUN_TIMEOUT,
    deadline=scoring_deadline(SCORING_DEADLINE_MINUTES),
    default_args=default_args(),
    params=params(),
    tags=["bulkscan", "mysql", "member-scoring", "incremental"],
    doc_md=__doc__,
)
def member_scoring() -> None:
    @task
    def plan() -> list[ChunkPayload]:
        ctx = get_current_context()
        params = {**ctx["params"], "day": ctx["params"].get("day") or assets.triggering_day(ctx)}
        planned = ms.plan(params, ctx.get("data_interval_end"), ctx["dag_run"].run_id, max_map_length())
        ctx["ti"].xcom_push(key="day", value=planned["day"])  # read downstream as the XComArg planned["day"]
        return planned["chunks"]

    @task(**mapped(POOL_MYSQL, "chunk_label"))
    def scan_flows(chunk: ChunkPayload) -> dict[str, Any]:
        ctx = get_current_context()
        ctx["chunk_label"] = chunk["label"]  # type: ignore[typeddict-unknown-key]
        return ms.scan(chunk, ctx["params"], ctx["ti"].try_number)

    @task
    def plan_shards(day: DayPlan) -> list[dict[str, Any]]:
        return shard_tasks.plan_shards(get_current_context()["params"], day)

    @task(**mapped(POOL_SHARDS, "unit_label"))
    def scan_shards(unit: dict[str, Any]) -> dict[str, Any]:
        ctx = get_current_context()
        ctx["unit_label"] = unit["label"]  # type: ignore[typeddict-unknown-key]
        return shard_tasks.scan_shard(unit, ctx["params"], ctx["ti"].try_number)

    @task
    def plan_redis(day: DayPlan) -> list[dict[str, Any]]:
        return points_tasks.plan_redis(get_current_context()["params"], day)

    @task(**mapped(POOL_REDIS, "node_label"))
    def scan_redis(node: dict[str, Any]) -> dict[str, Any]:
        ctx = get_current_context()
        ctx["node_label"] = node["ui_label"]  # type: ignore[typeddict-unknown-key]
        return points_tasks.scan_redis(node, ctx["params"], ctx["ti"].try_number)

    @task(trigger_rule="none_failed", outlets=[assets.MEMBER_SCORE])
    def apply(day: DayPlan, results: Any, units: Any, shard_results: Any, nodes: Any, redis_results: Any) -> Any:
        producers = ms.Producers(
            shard_units=units, shard_results=shard_results, redis_nodes=nodes, redis_results=redis_results
        )
        ctx = get_current_context()
        result = ms.apply(day, results, ctx["params"], producers)
        assets.emit(ctx, assets.MEMBER_SCORE, result)
        return result

    # plan's return value is the chunks to map over (Airflow maps only over a return value); the day it
    # decided travels beside them as its "day" XCom, passed on as an XComArg like any other.
    chunks = plan()
    day = chunks["day"]  # type: ignore[index]  # PlainXComArg of plan's "day" key
    # Task groups show the producers apart in the Grid; task ids stay unprefixed (scan_flows, ...), so
    # clearing one map index (`make retry-chunk TASK=scan_flows`) reads as before.
    with TaskGroup("flows", prefix_group_id=False):
        flow_results = scan_flows.expand(chunk=chunks)
    with TaskGroup("shards", prefix_group_id=False):
        units = plan_shards(day)
        shard_results = scan_shards.expand(unit=units)
    with TaskGroup("redis", prefix_group_id=False):
        nodes = plan_redis(day)
        redis_results = scan_redis.expand(node=nodes)
    apply(day, flow_results, units, shard_results, nodes, redis_results)


member_scoring()
