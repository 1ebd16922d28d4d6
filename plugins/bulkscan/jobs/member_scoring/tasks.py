"""Airflow side of member scoring: Params, and the plan / scan_flows / apply task bodies.

The DAG file only wires these together; the work is in bulkscan.jobs.member_scoring.config (pure),
bulkscan.jobs.member_scoring.flows (the day's producers) and bulkscan.jobs.member_scoring.store (the state).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sized
from datetime import date
from pathlib import Path
from typing import Any

from bulkscan.core.batching import AdaptiveBatch
from bulkscan.core.chunks import Chunk
from bulkscan.core.identifiers import validate_identifier
from bulkscan.core.paths import INCLUDE_DIR
from bulkscan.core.processors import AggregateByKey, load_processor
from bulkscan.core.sweep import SweepSpec
from bulkscan.errors import BulkscanInputError, ReconcileError
from bulkscan.glue import params as shared
from bulkscan.glue.connections import check_reachable, close_quietly, connect_factory
from bulkscan.glue.defaults import fail_fast_on_bad_input
from bulkscan.jobs.member_scoring import points
from bulkscan.jobs.member_scoring.config import ScoringConfig, day_bounds, load_config
from bulkscan.jobs.member_scoring.flows import JOB, day_flow_spec, plan_day, produce_chunk, produce_chunk_on_server
from bulkscan.jobs.member_scoring.store import ScoringStore
from bulkscan.jobs.shard_query.runner import ShardSettings, plan_units, run_unit
from bulkscan.jobs.shard_query.topology import ShardUnit, load_topology
from bulkscan.mysqldb.results import ResultStore
from bulkscan.mysqldb.slots import host_slot
from bulkscan.redisnodes.connect import discover_stable

log = logging.getLogger(__name__)
DEFAULT_CONFIG = "scoring.yaml"
DAY_PATTERN = r"^(\d{4}-\d{2}-\d{2})?$"
PROCESSOR_PATTERN = r"^(aggregate|[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*)$"
MODES = ("apply", "rebuild", "verify")


def params() -> dict[str, Any]:
    """The trigger form: every field typed, bounded and explained."""
    from airflow.sdk import Param

    return {
        "mode": Param(
            "apply",
            type="string",
            enum=list(MODES),
            title="Mode",
            description="apply: merge the day's flows incrementally (the daily run). rebuild: recompute "
            "member_score as of the day from flow_day_sum (bootstrap). verify: compare the "
            "incremental state with a rebuild, writing nothing.",
        ),
        "day": Param(
            None,
            type=["null", "string"],
            pattern=DAY_PATTERN,
            title="Day (YYYY-MM-DD)",
            description="The day to apply; empty means the run's data interval day (scheduled runs, backfills).",
        ),
        "conn_id": Param(
            "bulkscan_mysql",
            type="string",
            minLength=1,
            title="MySQL connection id",
            description="Airflow connection of the server holding t_flow and the scoring tables.",
        ),
        "database": Param(
            None,
            type=["null", "string"],
            pattern=shared.OPTIONAL_IDENT_PATTERN,
            title="Database",
            description="Schema of t_flow and the scoring tables; empty: the connection's schema.",
        ),
        "flow_table": Param(
            "t_flow",
            type="string",
            pattern=shared.IDENT_PATTERN,
            title="Flow table",
            description="Source flows (id, uid, score, created_at) with an index on created_at.",
        ),
        "results_schema": Param(
            None,
            type=["null", "string"],
            pattern=shared.OPTIONAL_IDENT_PATTERN,
            title="Partials schema",
            description="Where producers write per-member partial sums (bulkscan_partial); "
            "empty: the scoring database.",
        ),
        "config": Param(
            DEFAULT_CONFIG,
            type=["string", "object"],
            title="Scoring configuration",
            description="A .yaml file under include/ (default scoring.yaml: tiers, thresholds, "
            "window_days, actions), or the configuration itself as an object.",
        ),
        "rows_per_chunk": Param(
            250_000,
            type="integer",
            minimum=1,
            maximum=100_000_000,
            title="Flows per chunk",
            description="Target flows in one mapped scan task.",
        ),
        "max_chunks": Param(
            16,
            type="integer",
            minimum=1,
            maximum=1024,
            title="Maximum chunks",
            description="Upper bound on mapped scan tasks for the day.",
        ),
        "max_parallel_chunks": Param(
            4,
            type="integer",
            minimum=1,
            maximum=64,
            title="Maximum parallel chunks",
            description="At most this many chunks query the server at once (a slot semaphore held on the server).",
        ),
        "batch_seconds": shared.batch_seconds(),
        "processor": Param(
            "aggregate",
            type="string",
            pattern=PROCESSOR_PATTERN,
            title="Producer processor",
            description="'aggregate' (sum of score per uid pushed down to the server) or a "
            "'package.module:factory' returning an AggregateByKey on uid/score.",
        ),
        "processor_args": Param(
            {},
            type="object",
            title="Processor arguments",
            description="Keyword arguments for a processor factory.",
        ),
        "shards": Param(
            None,
            type=["null", "string", "object"],
            title="Shard tables",
            description="Flows also split over shard tables with t_flow's columns: a topology (a .json "
            "file under include/, or inline, in bulkscan_shard_query's format); every shard chunk is one "
            "more mapped producer of the day. Empty: no shards.",
        ),
        "server_side": Param(
            True,
            type="boolean",
            title="Sum on the server into the partial store",
            description="With the 'aggregate' processor: each chunk's per-member sums go straight from t_flow "
            "into bulkscan_partial with one INSERT ... SELECT (nothing crosses the wire). Off: the library "
            "scanner streams keyset batches through AggregateByKey (resumes after lost connections).",
        ),
        "redis_conn_id": Param(
            None,
            type=["null", "string"],
            pattern=r"^([A-Za-z0-9_][A-Za-z0-9_.\-]{0,249})?$",
            title="Redis points connection",
            description='Airflow Redis connection (standalone, or extra {"cluster": true}) holding real-time '
            "points in hashes <prefix><uid> with a pending field; each primary is one more mapped producer "
            "(scan_redis) folding pending into the day exactly once. Empty: no Redis points.",
        ),
        "redis_key_prefix": Param(
            "points:",
            type="string",
            pattern=points.PREFIX_PATTERN,
            title="Redis points key prefix",
            description="Keys are <prefix><uid> (uid an integer); SCAN MATCH <prefix>*.",
        ),
        "redis_pending_field": Param(
            "pending",
            type="string",
            minLength=1,
            maxLength=200,
            title="Pending points field",
            description="Hash field the application increments (HINCRBY) in real time; reset to 0 once folded. "
            "Only positive integers are folded; other values stay pending and are counted.",
        ),
        "redis_applied_field": Param(
            "applied",
            type="string",
            minLength=1,
            maxLength=200,
            title="Applied points field",
            description="Hash field holding the lifetime total of points folded into scoring days.",
        ),
        "keep_partials": Param(
            False,
            type="boolean",
            title="Keep partial sums",
            description="Keep the run's per-chunk partial sums after the day is applied.",
        ),
    }


class ScoringSettings:
    """Params, validated once: a bad value is an input error before any query runs."""

    def __init__(self, p: Mapping[str, Any]):
        self.mode = str(p.get("mode") or "apply")
        if self.mode not in MODES:
            raise BulkscanInputError(f"mode must be one of {MODES}, got {self.mode!r}")
        self.day_param = str(p.get("day") or "")
        self.conn_id = str(p["conn_id"])
        self.database = validate_identifier(p["database"], "database") if p.get("database") else None
        self.flow_table = validate_identifier(p.get("flow_table") or "t_flow", "flow table")
        self.results_schema = (
            validate_identifier(p["results_schema"], "partials schema") if p.get("results_schema") else None
        )
        self.config = resolve_config(p.get("config") or DEFAULT_CONFIG)
        self.rows_per_chunk = _positive_int(p.get("rows_per_chunk", 250_000), "flows per chunk")
        self.max_chunks = _positive_int(p.get("max_chunks", 16), "maximum chunks")
        self.max_parallel = _positive_int(p.get("max_parallel_chunks", 4), "maximum parallel chunks")
        self.batch_seconds = float(p.get("batch_seconds") or 0.5)
        self.processor = str(p.get("processor") or "aggregate")
        self.processor_args = dict(p.get("processor_args") or {})
        self.keep_partials = bool(p.get("keep_partials", False))
        self.shards = p.get("shards") or None
        self.server_side = bool(p.get("server_side", True)) and self.processor == "aggregate"
        self.redis_conn_id = str(p.get("redis_conn_id") or "") or None
        self.redis_key_prefix = str(p.get("redis_key_prefix") or "points:")
        self.redis_pending = str(p.get("redis_pending_field") or "pending")
        self.redis_applied = str(p.get("redis_applied_field") or "applied")

    def points_spec(self, day: date, replay: bool = False) -> SweepSpec:
        """The Redis sweep's spec for the day's fold (validated; raises on a bad field or prefix)."""
        return points.points_spec(day, self.redis_key_prefix, self.redis_pending, self.redis_applied, replay=replay)

    def shard_settings(self, day: date) -> ShardSettings:
        """The shard fan-out's settings for the day: sum score per uid over the day's rows of each shard."""
        lo, hi = day_bounds(day)
        return ShardSettings(
            key="id",
            processor="aggregate",
            processor_kwargs={"group": "uid", "value": "score"},
            filters=[["created_at", ">=", lo], ["created_at", "<", hi]],
            chunk_rows=self.rows_per_chunk,
            max_chunks=self.max_chunks,
            max_per_host=self.max_parallel,
            batch_seconds=self.batch_seconds,
        )

    def day(self, interval_start: Any) -> date:
        """The day param, else the data interval's (UTC) date."""
        if self.day_param:
            try:
                return date.fromisoformat(self.day_param)
            except ValueError as exc:
                raise BulkscanInputError(f"day {self.day_param!r} is not a YYYY-MM-DD date") from exc
        if interval_start is None:
            raise BulkscanInputError("no day given and the run has no data interval; set the 'day' param")
        return date(interval_start.year, interval_start.month, interval_start.day)

    def make_processor(self) -> AggregateByKey:
        if self.processor == "aggregate":
            return AggregateByKey("uid", "score")
        proc = load_processor(self.processor, **self.processor_args)
        if not isinstance(proc, AggregateByKey):
            raise BulkscanInputError(f"processor {self.processor!r} must return an AggregateByKey on uid/score")
        return proc

    def connect(self) -> Any:
        return connect_factory(self.conn_id, self.database)

    def db_name(self, conn: Any) -> str:
        if self.database:
            return self.database
        cur = conn.cursor()
        cur.execute("SELECT DATABASE()")
        name = cur.fetchone()[0]
        if not name:
            raise BulkscanInputError(f"connection {self.conn_id!r} has no default schema; set the 'database' param")
        return str(name)


def resolve_config(value: Any) -> ScoringConfig:
    """A file name under include/ or an inline mapping, validated (errors name the problem)."""
    if isinstance(value, Mapping):
        return ScoringConfig.from_dict(value)
    name = str(value)
    path = (INCLUDE_DIR / name).resolve()
    if INCLUDE_DIR.resolve() not in path.parents or path.suffix not in (
        ".yaml",
        ".yml",
    ):
        raise BulkscanInputError(f"scoring configuration {name!r} must be a .yaml file under include/")
    return load_config(Path(path))


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BulkscanInputError(f"{what} must be a positive integer, got {value!r}")
    return value


def _stores(s: ScoringSettings, connect: Any, db: str) -> tuple[ScoringStore, ResultStore]:
    results_db = s.results_schema or db
    return ScoringStore(connect, db, s.config, results_db), ResultStore(connect, results_db)


@fail_fast_on_bad_input
def plan(p: Mapping[str, Any], interval_start: Any, dag_run_id: str, max_map_length: int) -> dict[str, Any]:
    """Validate, refuse a day that cannot be applied, plan the day's flows into chunks (small XCom)."""
    s = ScoringSettings(p)
    day = s.day(interval_start)
    if s.max_chunks > max_map_length:
        raise BulkscanInputError(f"maximum chunks {s.max_chunks} is above Airflow's max_map_length {max_map_length}")
    s.make_processor()
    if s.redis_conn_id:
        s.points_spec(day)
    connect = s.connect()
    conn = check_reachable(connect, s.conn_id)
    try:
        db = s.db_name(conn)
    finally:
        close_quietly(conn)
    store, results = _stores(s, connect, db)
    store.ensure()
    results.ensure()
    # A fresh key per plan: a re-run of the day never mixes with an earlier run's partials, while a
    # retried chunk of this run replaces its own earlier attempt.
    run_key = f"{JOB}/{day}/{dag_run_id}/{uuid.uuid4().hex[:8]}"
    out: dict[str, Any] = {
        "day": str(day),
        "run_key": run_key,
        "database": db,
        "mode": s.mode,
        "chunks": [],
    }
    if s.mode != "apply":
        return out
    step = store.check_next(day)  # out-of-order days fail here, before anything is scanned
    _, planned = plan_day(connect, db, day, s.rows_per_chunk, s.max_chunks, s.flow_table)
    log.info(
        "day %s (%s): %s flows in %d chunks, run %s",
        day,
        step.value,
        f"{planned.total_rows:,}",
        len(planned.chunks),
        run_key,
    )
    out["step"] = step.value
    out["flows"] = planned.total_rows
    out["chunks"] = [
        {
            **c.as_dict(),
            "label": f"{day} {c.label}",
            "run_key": run_key,
            "day": str(day),
        }
        for c in planned.chunks
    ]
    return out


def scan(chunk_data: Mapping[str, Any], p: Mapping[str, Any], try_number: int) -> dict[str, Any]:
    """Sum one chunk's flows per uid under the run's parallel cap; store them keyed by run and chunk."""
    s = ScoringSettings(p)
    chunk = Chunk.from_dict(dict(chunk_data))
    run_key, day = (
        str(chunk_data["run_key"]),
        date.fromisoformat(str(chunk_data["day"])),
    )
    connect = s.connect()
    conn = check_reachable(connect, s.conn_id)
    try:
        db = s.db_name(conn)
    finally:
        close_quietly(conn)
    conn = connect()
    try:
        spec = day_flow_spec(conn, db, day, s.flow_table)
    finally:
        close_quietly(conn)
    _, results = _stores(s, connect, db)
    with host_slot(connect, f"scoring:{run_key}"[:60], s.max_parallel):
        if s.server_side:
            rows, groups, seconds = produce_chunk_on_server(connect, spec, chunk, results, run_key, try_number)
            return {
                "index": chunk.index,
                "rows": rows,
                "groups": groups,
                "seconds": round(seconds, 3),
                "server_side": True,
                "try_number": try_number,
            }
        stats = produce_chunk(
            connect,
            spec,
            chunk,
            results,
            run_key,
            try_number,
            processor=s.make_processor(),
            batch=AdaptiveBatch(target_seconds=s.batch_seconds),
        )
    return {
        "index": chunk.index,
        "rows": stats.rows,
        "groups": stats.summary.get("groups"),
        "seconds": round(stats.seconds, 3),
        "reconnects": stats.reconnects,
        "try_number": try_number,
    }


def shard_key(run_key: str) -> str:
    """The shard producers' own run key: their chunk indices never collide with the table's."""
    return f"{run_key}/shards"


def plan_shards(p: Mapping[str, Any], planned: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The shard fan-out's units for the day (empty without a topology), planned by the shard runner."""
    s = ScoringSettings(p)
    if not s.shards or s.mode != "apply":
        return []
    day = date.fromisoformat(str(planned["day"]))
    topology = load_topology(s.shards, base_dir=INCLUDE_DIR)
    units = plan_units(topology, connect_factory, s.shard_settings(day))
    key = shard_key(str(planned["run_key"]))
    log.info("day %s: %d shard units over %d hosts", day, len(units), len(topology.hosts))
    return [{**u.as_dict(), "label": f"{day} {u.label}", "run_key": key, "day": str(day)} for u in units]


def scan_shard(unit_data: Mapping[str, Any], p: Mapping[str, Any], try_number: int) -> dict[str, Any]:
    """Sum one shard unit's flows per uid into the same partial store (keyed by shard run and chunk)."""
    s = ScoringSettings(p)
    unit = ShardUnit.from_dict(unit_data)
    day = date.fromisoformat(str(unit_data["day"]))
    connect = s.connect()
    conn = check_reachable(connect, s.conn_id)
    try:
        db = s.db_name(conn)
    finally:
        close_quietly(conn)
    _, results = _stores(s, connect, db)
    answers = run_unit(
        unit,
        connect_factory(unit.conn_id, unit.database),
        s.shard_settings(day),
        results,
        str(unit_data["run_key"]),
        try_number,
    )
    return {"items": len(answers), "rows": sum(a.rows for a in answers)}


def redis_key(run_key: str) -> str:
    """The Redis producers' own run key (one chunk per primary, plus the mop-up's)."""
    return f"{run_key}/redis"


def _redis_settings(conn_id: str) -> Any:
    from bulkscan.jobs.redis_sweep.tasks import settings

    return settings(conn_id)


def _audit_dir() -> Path:
    from bulkscan.jobs.redis_sweep.tasks import audit_dir

    return audit_dir({}) / "member-scoring"


def plan_redis(p: Mapping[str, Any], planned: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One mapped producer per Redis primary holding points (empty when no Redis connection is set).

    A re-run of an applied day replays what that day folded (moves nothing new)."""
    s = ScoringSettings(p)
    if not s.redis_conn_id or s.mode != "apply":
        return []
    day = date.fromisoformat(str(planned["day"]))
    replay = planned.get("step") == "rerun"
    s.points_spec(day, replay)
    topo = discover_stable(_redis_settings(s.redis_conn_id))
    topo.require_covered()
    nodes = topo.plan()
    key = redis_key(str(planned["run_key"]))
    log.info("day %s: folding Redis points from %d primaries (%s)", day, len(nodes), "replay" if replay else "move")
    return [
        {
            **n,
            "index": i,
            "ui_label": f"{day} redis {n['label']}",
            "run_key": key,
            "day": str(day),
            "replay": replay,
        }
        for i, n in enumerate(nodes)
    ]


def _write_points(
    s: ScoringSettings, run_key: str, index: int, groups: dict[int, list[int]], try_number: int, source: str
) -> None:
    connect = s.connect()
    conn = check_reachable(connect, s.conn_id)
    try:
        db = s.db_name(conn)
    finally:
        close_quietly(conn)
    _, results = _stores(s, connect, db)
    results.replace_chunk(
        run_key,
        Chunk(index=index, lo=0, hi=0),
        job=JOB,
        source=source,
        rows=sum(g[1] for g in groups.values()),
        seconds=0.0,
        try_number=try_number,
        groups=groups,  # type: ignore[arg-type]
    )


def scan_redis(node: Mapping[str, Any], p: Mapping[str, Any], try_number: int, hooks: Any = None) -> dict[str, Any]:
    """Fold one primary's pending points into the day (exactly once) and store them as per-uid partials."""
    s = ScoringSettings(p)
    day = date.fromisoformat(str(node["day"]))
    spec = s.points_spec(day, bool(node.get("replay")))
    result, groups = points.fold_node(
        _redis_settings(str(s.redis_conn_id)), node, spec, day, _audit_dir(), s.redis_key_prefix, hooks
    )
    _write_points(s, str(node["run_key"]), int(node["index"]), groups, try_number, f"redis:{node['label']}")
    out = {k: result.get(k) for k in ("label", "swept", "audit", "applied", "done_before", "not_a_uid")}
    out["members"] = len(groups)
    log.info("%s: %s", node["label"], out)
    return out


def redis_mop_up(p: Mapping[str, Any], nodes: list[Mapping[str, Any]], node_results: list[Mapping[str, Any]]) -> int:
    """Keys whose slot moved during the fold, as one more chunk (index = node count); returns chunks."""
    s = ScoringSettings(p)
    day = date.fromisoformat(str(nodes[0]["day"]))
    spec = s.points_spec(day, bool(nodes[0].get("replay")))
    plan = [{k: v for k, v in n.items() if k not in ("ui_label", "run_key", "day", "replay", "index")} for n in nodes]
    result, groups = points.fold_mop_up(
        _redis_settings(str(s.redis_conn_id)),
        plan,
        spec,
        day,
        _audit_dir(),
        s.redis_key_prefix,
        [str(r["audit"]) for r in node_results],
    )
    log.info("Redis mop-up: %s rounds, %d members from keys that moved during the fold", result["rounds"], len(groups))
    _write_points(s, str(nodes[0]["run_key"]), len(nodes), groups, 1, "redis:mop-up")
    return len(nodes) + 1


def apply(
    planned: Mapping[str, Any],
    chunk_results: Sized | None,
    p: Mapping[str, Any],
    shard_units: list[Mapping[str, Any]] | None = None,
    redis_nodes: list[Mapping[str, Any]] | None = None,
    redis_results: list[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The downstream aggregation: merge every producer's partials into the day, or rebuild / verify."""
    s = ScoringSettings(p)
    day = date.fromisoformat(str(planned["day"]))
    db, run_key = str(planned["database"]), str(planned["run_key"])
    connect = s.connect()
    store, _ = _stores(s, connect, db)
    if s.mode == "rebuild":
        return store.rebuild(day, run_key).as_dict()
    if s.mode == "verify":
        report = store.verify()
        if report["mismatches"]:
            raise ReconcileError(f"incremental state differs from a rebuild for {report['mismatches']} members")
        return report
    # Only the count is needed (the partials themselves are in the store); len() of the lazy mapped
    # XCom sequence asks for the count without pulling every item.
    got = 0 if chunk_results is None else len(chunk_results)  # type: ignore[arg-type]
    expected = int(planned["chunk_count"])
    if got != expected:
        raise ReconcileError(f"{got} of {expected} chunk results arrived; refusing to merge")
    more: list[tuple[str, int | None]] = []
    if shard_units:
        more.append((shard_key(run_key), sum(len(u["items"]) for u in shard_units)))
    if redis_nodes:
        results = list(redis_results or [])
        if len(results) != len(redis_nodes):
            raise ReconcileError(f"{len(results)} of {len(redis_nodes)} Redis producers reported; refusing to merge")
        more.append((redis_key(run_key), redis_mop_up(p, list(redis_nodes), results)))
    res = store.apply_day(day, run_key, expected_chunks=expected, more_producers=more)
    if not s.keep_partials:
        for key in [run_key, *(k for k, _ in more)]:
            store.drop_partials(key)
    return res.as_dict()
