"""Member scoring's trigger form: every field typed, bounded, titled and explained, in four sections."""

from __future__ import annotations

from typing import Any

from bulkscan.core.values import AGGREGATE_PROCESSOR_PATTERN, OPTIONAL_CONN_ID_PATTERN, OPTIONAL_IDENT_PATTERN
from bulkscan.glue import params as fields
from bulkscan.glue.defaults import task_timeout_minutes
from bulkscan.jobs.member_scoring.rules import PREFIX_PATTERN
from bulkscan.jobs.member_scoring.settings import DAY_PATTERN, DEFAULT_CONFIG, MAX_HOUR_INDEX, MODES

DAY = None  # the open default section, with the source fields
REDIS = "Redis points"


def params() -> dict[str, Any]:
    return {**_day(), **_source(), **_chunks(), **_redis()}


HOURLY_SOURCE = ("conn_id", "database", "flow_table", "results_schema", "keep_partials")


def hourly_params() -> dict[str, Any]:
    """member_scoring_hourly's form: the hour, the scoring configuration, t_flow's fields and the chunking
    knobs of the daily form (no mode, no shards, no Redis: an hour folds t_flow only)."""
    source = _source()
    return {
        "day": fields.param(
            None,
            type=["null", "string"],
            pattern=DAY_PATTERN,
            title="Day (YYYY-MM-DD)",
            description="The business day of the hour to fold, with 'hour'; empty: the hour that closed "
            "before the run's data interval ended (scheduled runs).",
            section=DAY,
        ),
        "hour": fields.param(
            None,
            type=["null", "integer"],
            minimum=0,
            maximum=MAX_HOUR_INDEX,
            title="Hour of the day",
            description="Hours from the day's opening at local midnight: 0 .. 23 (0 .. 22 or 0 .. 24 on a "
            "daylight-saving day when created_at holds UTC). With 'day'; empty with an empty day.",
            section=DAY,
        ),
        "config": _day()["config"],
        **{name: source[name] for name in HOURLY_SOURCE},
        **_chunks(),
    }


def _day() -> dict[str, Any]:
    return {
        "mode": fields.param(
            "apply",
            type="string",
            enum=list(MODES),
            title="Mode",
            description="apply: merge the day's flows incrementally (the daily run). rebuild: recompute "
            "member_score as of the day from flow_day_sum (bootstrap). verify: compare the "
            "incremental state with a rebuild, writing nothing.",
            section=DAY,
        ),
        "day": fields.param(
            None,
            type=["null", "string"],
            pattern=DAY_PATTERN,
            title="Day (YYYY-MM-DD)",
            description="The day to apply; empty means the run's data interval day (scheduled runs, backfills).",
            section=DAY,
        ),
        "config": fields.param(
            DEFAULT_CONFIG,
            type=["string", "object"],
            title="Scoring configuration",
            description="A .yaml file under include/ (default scoring.yaml: tiers, thresholds, "
            "window_days, actions), or the configuration itself as an object.",
            section=DAY,
        ),
    }


def _source() -> dict[str, Any]:
    optional_schema = {"type": ["null", "string"], "pattern": OPTIONAL_IDENT_PATTERN}
    return {
        "conn_id": fields.mysql_conn_id("Airflow connection of the server holding t_flow and the scoring tables."),
        "database": fields.database("Schema of t_flow and the scoring tables; empty: the connection's schema."),
        "flow_table": fields.table(
            "t_flow", "Source flows (id, uid, score, created_at) with an index on created_at.", title="Flow table"
        ),
        "shards": fields.param(
            None,
            type=["null", "string", "object"],
            title="Shard tables",
            description="Flows also split over shard tables with t_flow's columns: a topology (a .json "
            "file under include/, or inline, in bulkscan_shard_query's format); every shard chunk is one "
            "more mapped producer of the day. Empty: no shards.",
            section=fields.SOURCE,
        ),
        "results_schema": fields.param(
            None,
            **optional_schema,
            title="Partials schema",
            description="Where producers write per-member partial sums (bulkscan_partial); "
            "empty: the scoring database.",
            section=fields.RESULTS,
        ),
        "lookback_days": fields.param(
            0,
            type="integer",
            minimum=0,
            maximum=31,
            title="Late-data lookback (days)",
            description="Each run also re-counts the flows of this many applied days before its own; a day "
            "that gained flows since it was applied (late writers) is re-run in the same apply, exactly as a "
            "manual re-run of that day would. 0: no re-check. Not with shard tables or Redis points.",
            section=fields.PROCESSING,
        ),
        "keep_partials": fields.param(
            False,
            type="boolean",
            title="Keep partial sums",
            description="Keep the run's per-chunk partial sums after the day is applied.",
            section=fields.RESULTS,
        ),
    }


def _chunks() -> dict[str, Any]:
    return {
        "rows_per_chunk": fields.rows_per_chunk(
            250_000, "Target flows in one mapped scan task.", minimum=1, title="Flows per chunk"
        ),
        "max_chunks": fields.max_chunks(16, "Upper bound on mapped scan tasks for the day."),
        "max_parallel_chunks": fields.max_parallel(
            4, "At most this many chunks query the server at once (a slot semaphore held on the server)."
        ),
        "chunk_time_limit_minutes": fields.chunk_time_limit(
            task_timeout_minutes(),
            piece="A producer (a chunk of the day's flows, a shard task, a Redis primary) running longer is "
            "ended and retried",
            source="scoring job",
        ),
        "batch_seconds": fields.batch_seconds(),
        "processor": fields.param(
            "aggregate",
            type="string",
            pattern=AGGREGATE_PROCESSOR_PATTERN,
            title="Producer processor",
            description="'aggregate' (sum of score per uid pushed down to the server) or a "
            "'package.module:factory' returning an AggregateByKey on uid/score.",
            section=fields.PROCESSING,
        ),
        "processor_args": fields.processor_args("Keyword arguments for a processor factory."),
        "server_side": fields.param(
            True,
            type="boolean",
            title="Sum on the server into the partial store",
            description="With the 'aggregate' processor: each chunk's per-member sums go straight from t_flow "
            "into bulkscan_partial with one INSERT ... SELECT (nothing crosses the wire). Off: the library "
            "scanner streams keyset batches through AggregateByKey (resumes after lost connections).",
            section=fields.PROCESSING,
        ),
    }


def _redis() -> dict[str, Any]:
    return {
        "redis_conn_id": fields.param(
            None,
            type=["null", "string"],
            pattern=OPTIONAL_CONN_ID_PATTERN,
            title="Redis points connection",
            description='Airflow Redis connection (standalone, or extra {"cluster": true}) holding real-time '
            "points in hashes <prefix><uid> with a pending field; each primary is one more mapped producer "
            "(scan_redis) folding pending into the day exactly once. Empty: no Redis points.",
            section=REDIS,
        ),
        "redis_key_prefix": fields.param(
            "points:",
            type="string",
            pattern=PREFIX_PATTERN,
            title="Redis points key prefix",
            description="Keys are <prefix><uid> (uid an integer); SCAN MATCH <prefix>*.",
            section=REDIS,
        ),
        "redis_pending_field": fields.redis_field(
            "pending",
            "Pending points field",
            "Hash field the application increments (HINCRBY) in real time; reset to 0 once folded. "
            "Only positive integers are folded; other values stay pending and are counted.",
            REDIS,
        ),
        "redis_applied_field": fields.redis_field(
            "applied",
            "Applied points field",
            "Hash field holding the lifetime total of points folded into scoring days.",
            REDIS,
        ),
    }
