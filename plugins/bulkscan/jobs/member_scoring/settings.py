"""Member scoring's settings: the trigger form's values, validated once (pure, no I/O, no Airflow)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict, get_args

from bulkscan.core.chunks import time_limit_bound_s
from bulkscan.core.identifiers import validate_identifier
from bulkscan.core.paths import INCLUDE_DIR
from bulkscan.core.processor_loader import load_processor
from bulkscan.core.processors import AggregateByKey
from bulkscan.core.sweep import SweepSpec
from bulkscan.core.values import optional_str, positive_int
from bulkscan.errors import BulkscanInputError
from bulkscan.jobs.member_scoring import rules
from bulkscan.jobs.member_scoring.business_calendar import HourSlice
from bulkscan.jobs.member_scoring.config import FlowSource, ScoringConfig, load_config
from bulkscan.jobs.shard_query.settings import ShardSettings

Mode = Literal["apply", "rebuild", "verify"]
MODES: tuple[Mode, ...] = get_args(Mode)
DEFAULT_CONFIG = "scoring.yaml"
DAY_PATTERN = r"^(\d{4}-\d{2}-\d{2})?$"


class DayPlan(TypedDict):
    """What `plan` decided for the run's day; every producer and `apply` receive it through XCom."""

    day: str
    run_key: str
    database: str
    mode: Mode
    chunk_count: int
    step: NotRequired[str]
    flows: NotRequired[int]
    hourly: NotRequired[bool]  # the close of a day the hourly folds already hold (zero chunks to scan)
    folded_hours: NotRequired[int]


class HourPlan(TypedDict):
    """What the hourly DAG's `plan_hour` decided: one hour of a business day to fold."""

    day: str
    hour: int
    label: str
    run_key: str
    database: str
    chunk_count: int
    flows: int


def resolve_config(value: object) -> ScoringConfig:
    """A file name under include/ or an inline mapping, validated (errors name the problem)."""
    if isinstance(value, Mapping):
        return ScoringConfig.from_dict(value)
    name = str(value)
    path = (INCLUDE_DIR / name).resolve()
    if INCLUDE_DIR.resolve() not in path.parents or path.suffix not in (".yaml", ".yml"):
        raise BulkscanInputError(f"scoring configuration {name!r} must be a .yaml file under include/")
    return load_config(Path(path))


MAX_LOOKBACK_DAYS = 31


def _lookback(value: object, params: Mapping[str, Any]) -> int:
    """Days before the run's day re-checked for late flows (0: none). The check counts t_flow, so it
    cannot see late flows of shard tables or Redis points: refused with those, not silently partial."""
    if not value:
        return 0
    days = positive_int(value, "lookback days")
    if days > MAX_LOOKBACK_DAYS:
        raise BulkscanInputError(f"lookback days must be in 0..{MAX_LOOKBACK_DAYS}, got {value!r}")
    if days and (params.get("shards") or params.get("redis_conn_id")):
        raise BulkscanInputError(
            "the late-data lookback re-counts t_flow only; it cannot check shard tables or Redis points: "
            "set lookback days to 0 with shards or a Redis points connection"
        )
    return days


def _mode(value: object) -> Mode:
    mode = str(value or "apply")
    if mode not in MODES:
        raise BulkscanInputError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


@dataclass(frozen=True)
class RedisPoints:
    """Where member scoring's real-time points live in Redis (None: no Redis producer)."""

    redis_conn_id: str
    key_prefix: str = "points:"
    pending_field: str = "pending"
    applied_field: str = "applied"

    def spec(self, day: date, replay: bool = False) -> SweepSpec:
        """The Redis sweep's spec for the day's fold (validated; raises on a bad field or prefix)."""
        return rules.points_spec(day, self.key_prefix, self.pending_field, self.applied_field, replay=replay)


@dataclass(frozen=True)
class ScoringSettings:
    """One run's settings; `from_params` refuses a bad value before any query runs."""

    conn_id: str
    config: ScoringConfig
    mode: Mode = "apply"
    day: date | None = None
    database: str | None = None
    flow_table: str = "t_flow"
    results_schema: str | None = None
    rows_per_chunk: int = 250_000
    max_chunks: int = 16
    max_parallel_chunks: int = 4
    batch_seconds: float = 0.5
    chunk_time_limit_s: int = 7_200  # the form's bound on a producer's own time limit
    processor: str = "aggregate"
    processor_args: Mapping[str, Any] = field(default_factory=dict)
    shards: str | Mapping[str, Any] | None = None
    server_side: bool = True
    redis: RedisPoints | None = None
    keep_partials: bool = False
    lookback_days: int = 0
    hour: int | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ScoringSettings:
        processor = str(params.get("processor") or "aggregate")
        redis_conn_id = optional_str(params.get("redis_conn_id"))
        database, results = params.get("database"), params.get("results_schema")
        return cls(
            mode=_mode(params.get("mode")),
            day=_day(params.get("day")),
            hour=_hour(params.get("hour"), params.get("day")),
            conn_id=str(params["conn_id"]),
            database=validate_identifier(database, "database") if database else None,
            flow_table=validate_identifier(params.get("flow_table") or "t_flow", "flow table"),
            results_schema=validate_identifier(results, "partials schema") if results else None,
            config=resolve_config(params.get("config") or DEFAULT_CONFIG),
            rows_per_chunk=positive_int(params.get("rows_per_chunk", 250_000), "flows per chunk"),
            max_chunks=positive_int(params.get("max_chunks", 16), "maximum chunks"),
            max_parallel_chunks=positive_int(params.get("max_parallel_chunks", 4), "maximum parallel chunks"),
            batch_seconds=float(params.get("batch_seconds") or 0.5),
            chunk_time_limit_s=time_limit_bound_s(params),
            processor=processor,
            processor_args=dict(params.get("processor_args") or {}),
            keep_partials=bool(params.get("keep_partials", False)),
            lookback_days=_lookback(params.get("lookback_days"), params),
            shards=params.get("shards") or None,
            server_side=bool(params.get("server_side", True)) and processor == "aggregate",
            redis=RedisPoints(
                redis_conn_id,
                str(params.get("redis_key_prefix") or "points:"),
                str(params.get("redis_pending_field") or "pending"),
                str(params.get("redis_applied_field") or "applied"),
            )
            if redis_conn_id
            else None,
        )

    @property
    def flow_source(self) -> FlowSource:
        return FlowSource(self.flow_table, self.config.calendar)

    def run_day(self, interval_end: datetime | None) -> date:
        """The day param, else the business day the scheduled run covers (in the calendar's zone)."""
        if self.day is not None:
            return self.day
        if interval_end is None:
            raise BulkscanInputError("no day given and the run has no data interval; set the 'day' param")
        return self.config.calendar.business_day(interval_end)

    def run_hour(self, interval_end: datetime | None) -> HourSlice:
        """The day and hour params, else the hour a scheduled hourly run folds (the last closed one)."""
        cal = self.config.calendar
        if self.day is not None and self.hour is not None:
            return cal.hour_slice(self.day, self.hour)
        if self.day is not None:
            raise BulkscanInputError(f"day {self.day} needs an hour (0 = the hour opening at local midnight)")
        if interval_end is None:
            raise BulkscanInputError("no day and hour given and the run has no data interval; set 'day' and 'hour'")
        return cal.closed_hour(interval_end)

    def check_fan_out(self, max_map_length: int) -> None:
        if self.max_chunks > max_map_length:
            raise BulkscanInputError(
                f"maximum chunks {self.max_chunks} is above Airflow's max_map_length {max_map_length}"
            )

    def shard_settings(self, day: date) -> ShardSettings:
        """The shard fan-out's settings for the day: sum score per uid over the day's rows of each shard."""
        lo, hi = self.config.calendar.day_bounds(day)
        return ShardSettings(
            key_column="id",
            processor="aggregate",
            processor_kwargs={"group": "uid", "value": "score"},
            filters=[["created_at", ">=", lo], ["created_at", "<", hi]],
            rows_per_chunk=self.rows_per_chunk,
            max_chunks_per_table=self.max_chunks,
            tables_per_task=1,  # one producer per shard table or chunk, as the day's flow chunks
            max_queries_per_host=self.max_parallel_chunks,
            batch_seconds=self.batch_seconds,
            chunk_time_limit_s=self.chunk_time_limit_s,
        )

    def make_processor(self) -> AggregateByKey:
        if self.processor == "aggregate":
            return AggregateByKey("uid", "score")
        proc = load_processor(self.processor, **dict(self.processor_args))
        if not isinstance(proc, AggregateByKey):
            raise BulkscanInputError(f"processor {self.processor!r} must return an AggregateByKey on uid/score")
        return proc


MAX_HOUR_INDEX = 24  # a 25-hour day (daylight saving ends) has hours 0..24


def _hour(value: object, day: object) -> int | None:
    """The hour of the day to fold (0 = the one opening at local midnight); given with a day, or neither."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_HOUR_INDEX:
        raise BulkscanInputError(
            f"hour must be an integer in 0..{MAX_HOUR_INDEX} (hours from the day's opening), got {value!r}"
        )
    if not day:
        raise BulkscanInputError(
            f"hour {value} needs a day (YYYY-MM-DD): give both, or neither for the last closed hour"
        )
    return value


def _day(value: object) -> date | None:
    text = str(value or "")
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise BulkscanInputError(f"day {text!r} is not a YYYY-MM-DD date") from exc
