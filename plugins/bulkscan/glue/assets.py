"""bulkscan's outputs as Airflow Assets, and the upstream asset member_scoring can wait for.

Each job's result task declares its output as an outlet and puts the run's counts in the asset
event's `extra`, so a downstream DAG scheduled on it starts when the output is ready and reads what
it got from `triggering_asset_events` (no query needed to know how many rows, members, keys):

* `bulkscan_table_scan` -> `bulkscan://table_scan/results` (summarize; rows, chunks, groups, table)
* `bulkscan_shard_query` -> `bulkscan://shard_query/results` (summarize)
* `bulkscan_redis_sweep` -> `bulkscan://redis_sweep/applied` (finalize; keys incremented...)
* `member_scoring` -> `bulkscan://member_scoring/member_score` (apply; day, members, changed...)

Upstream: `bulkscan://member_scoring/flows_complete`, emitted by whatever loads `t_flow` once a
business day's flows are all in, with `{"day": "YYYY-MM-DD"}` in its extra. BULKSCAN_SCORING_SCHEDULE
chooses what starts member_scoring: `clock` (default: the business calendar's cron), `asset` (only
that event) or `clock_or_asset` (whichever comes first).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from airflow.sdk import Asset

GROUP = "bulkscan"
TABLE_SCAN_RESULTS = Asset(name="bulkscan_table_scan_results", uri="bulkscan://table_scan/results", group=GROUP)
SHARD_QUERY_RESULTS = Asset(name="bulkscan_shard_query_results", uri="bulkscan://shard_query/results", group=GROUP)
REDIS_SWEEP_APPLIED = Asset(name="bulkscan_redis_sweep_applied", uri="bulkscan://redis_sweep/applied", group=GROUP)
MEMBER_SCORE = Asset(name="bulkscan_member_score", uri="bulkscan://member_scoring/member_score", group=GROUP)
FLOWS_COMPLETE = Asset(name="bulkscan_flows_complete", uri="bulkscan://member_scoring/flows_complete", group=GROUP)

SCHEDULES = ("clock", "asset", "clock_or_asset")


def scoring_schedule_mode() -> str:
    mode = os.environ.get("BULKSCAN_SCORING_SCHEDULE", "clock")
    if mode not in SCHEDULES:
        raise ValueError(f"BULKSCAN_SCORING_SCHEDULE={mode!r}: expected one of {', '.join(SCHEDULES)}")
    return mode


def scoring_schedule(clock: Any) -> Any:
    """member_scoring's schedule: the clock, the upstream asset, or either (AssetOrTimeSchedule)."""
    from airflow.sdk import AssetOrTimeSchedule

    mode = scoring_schedule_mode()
    if mode == "clock":
        return clock
    if mode == "asset":
        return [FLOWS_COMPLETE]
    return AssetOrTimeSchedule(timetable=clock, assets=FLOWS_COMPLETE)


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def emit(context: Mapping[str, Any], asset: Asset, summary: Mapping[str, Any]) -> None:
    """The run's counts (the summary's scalar fields) as the extra of this task's event on `asset`."""
    context["outlet_events"][asset].extra = {k: v for k, v in summary.items() if _scalar(v)}


def triggering_day(context: Mapping[str, Any]) -> str | None:
    """The business day an upstream `flows_complete` event named (the latest one), if this run was
    started by one."""
    events = context.get("triggering_asset_events") or {}
    for event in reversed(list(events.get(FLOWS_COMPLETE, []))):
        day = (event.extra or {}).get("day")
        if day:
            return str(day)
    return None
