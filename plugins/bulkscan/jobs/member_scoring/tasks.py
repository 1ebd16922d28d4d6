"""Task bodies of `member_scoring`: plan the day, scan one chunk of its flows, apply the day.

The shard and Redis producers are in `shard_tasks` and `points_tasks`. The DAG file only wires these
together; the rules are in `config` / `rules` / `settings` (pure), the MySQL work in `flows` / `store`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence, Sized
from datetime import date, timedelta
from typing import Any, TypedDict

from bulkscan.core.batching import AdaptiveBatch
from bulkscan.core.chunks import KEY_END, KEY_MIN, Chunk, ChunkPayload
from bulkscan.errors import BulkscanInputError, ReconcileError
from bulkscan.glue.defaults import fail_fast_on_bad_input
from bulkscan.glue.time_limit import kill_after, own_time_limit, planned_time_limits, time_limit
from bulkscan.jobs.member_scoring import context as ctx
from bulkscan.jobs.member_scoring.flows import (
    DayProducer,
    count_day,
    day_flow_spec,
    plan_day,
    produce_chunk,
    produce_chunk_on_server,
)
from bulkscan.jobs.member_scoring.folds import HourFold
from bulkscan.jobs.member_scoring.points_tasks import redis_mop_up
from bulkscan.jobs.member_scoring.rebuild import rebuild, verify
from bulkscan.jobs.member_scoring.rules import Step
from bulkscan.jobs.member_scoring.settings import DEFAULT_CONFIG, DayPlan, ScoringSettings, resolve_config
from bulkscan.jobs.member_scoring.store import ScoringStore
from bulkscan.mysqldb.connect import connection
from bulkscan.mysqldb.scanstate import ScanOptions
from bulkscan.mysqldb.slots import host_slot

log = logging.getLogger(__name__)
JOB = "member_scoring"


class PlannedDay(TypedDict):
    """`plan`'s two outputs: the day for every downstream task, and the chunks to map over."""

    day: DayPlan
    chunks: list[ChunkPayload]


@fail_fast_on_bad_input
def plan(params: Mapping[str, Any], interval_end: Any, dag_run_id: str, max_map_length: int) -> PlannedDay:
    """Validate, refuse a day that cannot be applied, plan the day's flows into chunks (small XCom).

    The day is the `day` param, or the business day that closed before the run's data interval ended.
    """
    settings = ScoringSettings.from_params(params)
    day = settings.run_day(interval_end)
    settings.check_fan_out(max_map_length)
    settings.make_processor()
    if settings.redis:
        settings.redis.spec(day)
    connect, db, store = ctx.ensured_stores(settings)
    # A fresh key per plan: a re-run of the day never mixes with an earlier run's partials, while a
    # retried chunk of this run replaces its own earlier attempt.
    run_key = f"{JOB}/{day}/{dag_run_id}/{uuid.uuid4().hex[:8]}"
    planned = DayPlan(day=str(day), run_key=run_key, database=db, mode=settings.mode, chunk_count=0)
    if settings.mode != "apply":
        return PlannedDay(day=planned, chunks=[])
    step = store.check_next(day)  # out-of-order days fail here, before anything is scanned
    cal = settings.config.calendar
    folded = store.folded_hours(day) if step in (Step.FORWARD, Step.FIRST) else {}
    if folded:
        # The hourly folds hold the day: `apply` folds what they have not (the last hour, skipped hours,
        # hours that gained flows) and applies the day from flow_day_sum; nothing to map here.
        if settings.shards or settings.redis:
            raise BulkscanInputError(
                f"{len(folded)} hour(s) of {day} were folded hourly, which reads t_flow only; the day cannot "
                "also take shard tables or Redis points (run hourly folds without them, or not at all)"
            )
        log.info(
            "business day %s in %s: closing from %d hourly fold(s), run %s", day, cal.identity, len(folded), run_key
        )
        planned["step"], planned["hourly"], planned["folded_hours"] = step.value, True, len(folded)
        return PlannedDay(day=planned, chunks=[])
    _, flows = plan_day(connect, db, day, settings.rows_per_chunk, settings.max_chunks, settings.flow_source)
    log.info(
        "business day %s in %s (%s, %.0f h): %s flows in %d chunks, run %s",
        day,
        cal.identity,
        step.value,
        cal.hours(day),
        f"{flows.total_rows:,}",
        len(flows.chunks),
        run_key,
    )
    planned["step"], planned["flows"], planned["chunk_count"] = step.value, flows.total_rows, len(flows.chunks)
    chunks = [ChunkPayload(**c.payload(f"{day} {c.label}"), run_key=run_key, day=str(day)) for c in flows.chunks]
    return PlannedDay(day=planned, chunks=with_time_limits(chunks, settings, store))


def with_time_limits(chunks: list[ChunkPayload], settings: ScoringSettings, store: ScoringStore) -> list[ChunkPayload]:
    """Each flow chunk's own time limit (the daily run's and the hourly folds'), derived from its planned
    rows and the slowest chunk of the last applied days' runs (or the form's bound before any), as for a
    table scan's chunks; logged once for the plan."""
    rows = [c["rows"] for c in chunks]
    limits = planned_time_limits(rows, store.slowest_recent_rate(), settings.chunk_time_limit_s, "chunk", log)
    return [ChunkPayload(**c, time_limit_s=limit) for c, limit in zip(chunks, limits, strict=True)]


def scan(payload: Mapping[str, Any], params: Mapping[str, Any], try_number: int) -> dict[str, Any]:
    """Sum one chunk's flows per uid under the run's parallel cap; store them keyed by run and chunk."""
    settings = ScoringSettings.from_params(params)
    chunk = Chunk.from_dict(payload)
    run_key, day = str(payload["run_key"]), date.fromisoformat(str(payload["day"]))
    period = day if payload.get("hour") is None else settings.config.calendar.hour_slice(day, int(payload["hour"]))
    connect = ctx.scoring_connect(settings)
    db = ctx.scoring_db(settings, connect)
    with connection(connect) as conn:
        spec = day_flow_spec(conn, db, period, settings.flow_source)
    producer = DayProducer(connect, spec, ctx.results_store(settings, connect, db), run_key)
    limit = own_time_limit(payload, settings.chunk_time_limit_s)
    with (
        host_slot(connect, f"scoring:{run_key}"[:60], settings.max_parallel_chunks),
        # the statement deadline sampled once the host slot is held (the task's timer ran while it waited)
        time_limit(limit, f"chunk {chunk.index} ({payload.get('label') or chunk.label})"),
    ):
        deadline = kill_after(limit)
        if settings.server_side:
            rows, groups, seconds = produce_chunk_on_server(producer, chunk, try_number, statement_deadline_s=deadline)
            return {
                "index": chunk.index,
                "rows": rows,
                "groups": groups,
                "seconds": round(seconds, 3),
                "server_side": True,
                "try_number": try_number,
            }
        batch = AdaptiveBatch(target_seconds=settings.batch_seconds)
        options = ScanOptions(statement_deadline_s=deadline)
        stats = produce_chunk(
            producer, chunk, try_number, processor=settings.make_processor(), batch=batch, options=options
        )
    return {
        "index": chunk.index,
        "rows": stats.rows,
        "groups": stats.summary.get("groups"),
        "seconds": round(stats.seconds, 3),
        "reconnects": stats.reconnects,
        "try_number": try_number,
    }


def _count(results: Sized | None) -> int:
    """How many mapped results arrived: len() of the lazy XCom sequence asks for the count only."""
    return 0 if results is None else len(results)


class Producers(TypedDict):
    """The shard and Redis producers' plans and results, as `apply` receives them through XCom."""

    shard_units: list[Mapping[str, Any]] | None
    shard_results: Sized | None
    redis_nodes: list[Mapping[str, Any]] | None
    redis_results: Sequence[Mapping[str, Any]] | None


def _more_producers(params: Mapping[str, Any], run_key: str, producers: Producers) -> list[tuple[str, int | None]]:
    """(run key, expected chunks) of the shard and Redis producers, once every one of them reported."""
    more: list[tuple[str, int | None]] = []
    units = list(producers["shard_units"] or [])
    reported = _count(producers["shard_results"])
    if reported != len(units):
        raise ReconcileError(f"{reported} of {len(units)} shard units reported; refusing to merge")
    if units:
        more.append((ctx.shard_run_key(run_key), sum(len(u["items"]) for u in units)))
    nodes = list(producers["redis_nodes"] or [])
    if nodes:
        results = list(producers["redis_results"] or [])
        if len(results) != len(nodes):
            raise ReconcileError(f"{len(results)} of {len(nodes)} Redis producers reported; refusing to merge")
        more.append((ctx.redis_run_key(run_key), redis_mop_up(params, nodes, results)))
    return more


def apply(
    planned: Mapping[str, Any], chunk_results: Sized | None, params: Mapping[str, Any], producers: Producers
) -> dict[str, Any]:
    """The downstream aggregation: merge every producer's partials into the day, or rebuild / verify."""
    settings = ScoringSettings.from_params(params)
    day = date.fromisoformat(str(planned["day"]))
    db, run_key = str(planned["database"]), str(planned["run_key"])
    connect = ctx.scoring_connect(settings)
    store = ctx.scoring_store(settings, connect, db)
    if settings.mode == "rebuild":
        return rebuild(store, day, run_key).as_dict()
    if settings.mode == "verify":
        report = verify(store)
        if report["mismatches"]:
            raise ReconcileError(f"incremental state differs from a rebuild for {report['mismatches']} members")
        return dict(report)
    got, expected = _count(chunk_results), int(planned["chunk_count"])
    if got != expected:
        raise ReconcileError(f"{got} of {expected} chunk results arrived; refusing to merge")
    more = _more_producers(params, run_key, producers)
    late = correct_late_days(settings, store, db, day, run_key)
    folds = close_folds(settings, store, db, day, run_key) if planned.get("hourly") else None
    res = store.apply_day(day, run_key, expected_chunks=expected, more_producers=more, folds=folds)
    if not settings.keep_partials:
        for key in [run_key, *(k for k, _ in more), *(f.run_key for f in folds or ())]:
            store.drop_partials(key)
    out = res.as_dict()
    if folds is not None:
        out["hours_folded_at_close"] = [f.hour.index for f in folds]
    out["late_flows"] = sum(n for _, n in late)
    out["corrected_days"] = [str(d) for d, _ in late]
    if settings.lookback_days:
        log.info(
            "lookback %d day(s): %d late flow(s), corrected %s",
            settings.lookback_days,
            out["late_flows"],
            ", ".join(out["corrected_days"]) or "nothing",
        )
    return out


def correct_late_days(
    settings: ScoringSettings, store: ScoringStore, db: str, day: date, run_key: str
) -> list[tuple[date, int]]:
    """Re-run each of the `lookback_days` applied days before `day` whose flows grew since it was
    applied (late writers), through the store's re-run path; returns (day, late flows) per corrected day.

    A corrected day is produced whole, by the server (one INSERT ... SELECT into the partials), under
    a run key of its own, and applied before `day`: the tables end exactly as a manual re-run of it.
    """
    if not settings.lookback_days:
        return []
    connect = ctx.scoring_connect(settings)
    applied = store.applied_flows(day - timedelta(days=settings.lookback_days), day)
    corrected: list[tuple[date, int]] = []
    for past, flows_then in sorted(applied.items()):
        with connection(connect) as conn:
            spec = day_flow_spec(conn, db, past, settings.flow_source)
        flows_now = count_day(connect, spec)
        if flows_now == flows_then:
            continue
        key = f"{run_key}/late/{past}"
        producer = DayProducer(connect, spec, ctx.results_store(settings, connect, db), key)
        produce_chunk_on_server(producer, Chunk(0, KEY_MIN, KEY_END))
        store.apply_day(past, key, expected_chunks=1)
        store.drop_partials(key)
        corrected.append((past, flows_now - flows_then))
    return corrected


def close_folds(settings: ScoringSettings, store: ScoringStore, db: str, day: date, run_key: str) -> list[HourFold]:
    """The hours the day's close must fold itself: never folded (the last hour, a skipped one) or folded
    with fewer flows than t_flow holds now (late writers). Each is produced by the server into the
    partial store under a key of its own; `apply_day` folds them in its transaction, before the day."""
    connect = ctx.scoring_connect(settings)
    folded = store.folded_hours(day)
    todo: list[HourFold] = []
    for hour in settings.config.calendar.hour_slices(day):
        with connection(connect) as conn:
            spec = day_flow_spec(conn, db, hour, settings.flow_source)
        if hour.index in folded and count_day(connect, spec) == folded[hour.index]:
            continue
        key = f"{run_key}/hour/{hour.index}"
        producer = DayProducer(connect, spec, ctx.results_store(settings, connect, db), key)
        produce_chunk_on_server(producer, Chunk(0, KEY_MIN, KEY_END))
        todo.append(HourFold(hour, key, 1))
    log.info(
        "close of %s: %d hour(s) folded hourly, folding %s now",
        day,
        len(folded),
        ", ".join(f.hour.label for f in todo) or "none",
    )
    return todo


def schedule() -> Any:
    """The DAG's timetable: daily at local midnight of the business zone plus the grace period
    (include/scoring.yaml's `calendar`), so each scheduled run starts once its business day has closed."""
    from airflow.timetables.trigger import CronTriggerTimetable

    calendar = resolve_config(DEFAULT_CONFIG).calendar
    return CronTriggerTimetable(calendar.cron(), timezone=calendar.timezone, interval=timedelta(days=1))
