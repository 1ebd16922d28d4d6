"""
### member_scoring_hourly: fold each closed hour of the business day as the day goes on

The seed's "spread the computation over the day, even every hour". Every hour, `grace_minutes` past it
in the shop's zone (`calendar` in include/scoring.yaml), the hour that closed is planned into ID-range
chunks of `t_flow` (`plan_hour`), each chunk one mapped `scan_flows` task (shown as
"2026-03-29 13:00+0200 ids 1-40,000"), and `fold` adds the hour to the open day's block of
`flow_day_sum` in one transaction. An hour folded again (late flows, a retry, a cleared run) replaces
its own contribution: folding is idempotent per hour.

* No tiers, no actions: `member_scoring`'s run at the day's close decides them once. It folds what the
  hours have not (the last hour, an hour skipped, an hour that gained flows since it was folded) and
  applies the day from `flow_day_sum`; the tables end row for row as one daily apply would leave them.
* Runs are not caught up (`catchup=False`): a missed hour is folded by the close. Trigger one with
  `day` and `hour` (0 = the hour opening at local midnight; 0..22 or 0..24 across a DST change).
* An hour of a day already applied is refused: re-run the day instead.
* t_flow only: a day whose producers include shard tables or Redis points is applied by the daily run.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any

import pendulum
from airflow.sdk import dag, get_current_context, task

from bulkscan.core.chunks import ChunkPayload
from bulkscan.glue.defaults import HOURLY_DAGRUN_TIMEOUT, POOL_MYSQL, default_args, mapped, max_map_length
from bulkscan.jobs.member_scoring import hourly_tasks as hourly
from bulkscan.jobs.member_scoring import tasks as ms
from bulkscan.jobs.member_scoring.form import hourly_params
from bulkscan.jobs.member_scoring.settings import HourPlan

_START = date.fromisoformat(os.environ.get("BULKSCAN_SCORING_START", "2026-01-01"))


@dag(
    dag_id="member_scoring_hourly",
    schedule=hourly.schedule(),
    start_date=pendulum.datetime(_START.year, _START.month, _START.day, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=HOURLY_DAGRUN_TIMEOUT,
    default_args=default_args(execution_timeout=HOURLY_DAGRUN_TIMEOUT),
    params=hourly_params(),
    tags=["bulkscan", "mysql", "member-scoring", "incremental", "hourly"],
    doc_md=__doc__,
)
def member_scoring_hourly() -> None:
    @task
    def plan_hour() -> list[ChunkPayload]:
        ctx = get_current_context()
        planned = hourly.plan_hour(ctx["params"], ctx.get("data_interval_end"), ctx["dag_run"].run_id, max_map_length())
        ctx["ti"].xcom_push(key="hour", value=planned["hour"])  # read downstream as planned["hour"]
        return planned["chunks"]

    @task(**mapped(POOL_MYSQL, "chunk_label"))
    def scan_flows(chunk: ChunkPayload) -> dict[str, Any]:
        ctx = get_current_context()
        ctx["chunk_label"] = chunk["label"]  # type: ignore[typeddict-unknown-key]
        return ms.scan(chunk, ctx["params"], ctx["ti"].try_number)

    @task
    def fold(hour: HourPlan, results: Any) -> dict[str, Any]:
        return hourly.fold(hour, results, get_current_context()["params"])

    chunks = plan_hour()
    fold(chunks["hour"], scan_flows.expand(chunk=chunks))  # type: ignore[index]


member_scoring_hourly()
