"""Task bodies of `member_scoring_hourly`: fold one closed hour of the business day into flow_day_sum.

The seed's "spread the computation over the day, even every hour": each hour's flows are planned into
chunks (`plan_hour`), summed per member by the same `scan_flows` producer as the daily run, and folded
(`fold`) into the open day's block of flow_day_sum, idempotently: an hour folded again replaces its own
contribution. Tiers and actions are not touched; the day's close (`member_scoring`) decides them once,
folding only what the hours have not (the last hour, skipped hours, hours that gained flows).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sized
from datetime import date, timedelta
from typing import Any, TypedDict

from bulkscan.core.chunks import ChunkPayload
from bulkscan.errors import BulkscanInputError, ReconcileError
from bulkscan.glue.defaults import fail_fast_on_bad_input
from bulkscan.jobs.member_scoring import context as ctx
from bulkscan.jobs.member_scoring.flows import plan_day
from bulkscan.jobs.member_scoring.folds import HourFold
from bulkscan.jobs.member_scoring.settings import DEFAULT_CONFIG, HourPlan, ScoringSettings, resolve_config
from bulkscan.jobs.member_scoring.tasks import with_time_limits
from bulkscan.mysqldb.connect import cursor

log = logging.getLogger(__name__)
JOB = "member_scoring_hourly"


class PlannedHour(TypedDict):
    """`plan_hour`'s two outputs: the hour for `fold`, and the chunks to map over."""

    hour: HourPlan
    chunks: list[ChunkPayload]


@fail_fast_on_bad_input
def plan_hour(params: Mapping[str, Any], interval_end: Any, dag_run_id: str, max_map_length: int) -> PlannedHour:
    """Validate, refuse an hour of an applied day, plan the hour's flows into chunks (small XCom)."""
    settings = ScoringSettings.from_params(params)
    hour = settings.run_hour(interval_end)
    settings.check_fan_out(max_map_length)
    settings.make_processor()
    connect, db, store = ctx.ensured_stores(settings)
    with cursor(connect) as cur:
        store.check_calendar(cur)
        _, last = store.applied_range(cur)
    if last is not None and hour.day <= last:
        raise BulkscanInputError(
            f"{hour.label} belongs to {hour.day}, which is already applied (last applied day {last}): re-run "
            f"the day instead (member_scoring with day {hour.day}), which re-reads all its flows"
        )
    run_key = f"{JOB}/{hour.day}/h{hour.index}/{dag_run_id}/{uuid.uuid4().hex[:8]}"
    _, flows = plan_day(connect, db, hour, settings.rows_per_chunk, settings.max_chunks, settings.flow_source)
    log.info(
        "hour %s (%d of %s): %s flows in %d chunks, run %s",
        hour.label,
        hour.index,
        hour.day,
        f"{flows.total_rows:,}",
        len(flows.chunks),
        run_key,
    )
    planned = HourPlan(
        day=str(hour.day),
        hour=hour.index,
        label=hour.label,
        run_key=run_key,
        database=db,
        chunk_count=len(flows.chunks),
        flows=flows.total_rows,
    )
    chunks = [
        ChunkPayload(**c.payload(f"{hour.label} {c.label}"), run_key=run_key, day=str(hour.day), hour=hour.index)
        for c in flows.chunks
    ]
    return PlannedHour(hour=planned, chunks=with_time_limits(chunks, settings, store))


def fold(planned: Mapping[str, Any], chunk_results: Sized | None, params: Mapping[str, Any]) -> dict[str, Any]:
    """Every chunk of the hour reported: fold the hour into the day (one transaction), drop its partials."""
    settings = ScoringSettings.from_params(params)
    got, expected = 0 if chunk_results is None else len(chunk_results), int(planned["chunk_count"])
    if got != expected:
        raise ReconcileError(f"{got} of {expected} chunk results of the hour arrived; refusing to fold")
    connect = ctx.scoring_connect(settings)
    db, run_key = str(planned["database"]), str(planned["run_key"])
    store = ctx.scoring_store(settings, connect, db)
    hour = settings.config.calendar.hour_slice(date.fromisoformat(str(planned["day"])), int(planned["hour"]))
    result = store.fold_hour(HourFold(hour, run_key, expected))
    if not settings.keep_partials:
        store.drop_partials(run_key)
    return result.as_dict()


def schedule() -> Any:
    """Hourly in the business zone, `grace_minutes` (mod 60) past each hour: the run folds the hour that
    closed then (include/scoring.yaml's `calendar`)."""
    from airflow.timetables.trigger import CronTriggerTimetable

    calendar = resolve_config(DEFAULT_CONFIG).calendar
    return CronTriggerTimetable(calendar.hourly_cron(), timezone=calendar.timezone, interval=timedelta(hours=1))
