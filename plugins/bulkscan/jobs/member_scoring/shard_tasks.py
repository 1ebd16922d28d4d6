"""Member scoring's shard producers: the day's flows on shard tables, through the shard fan-out.

Every shard chunk is one more mapped producer of the day, writing per-member partials into the same
partial store under the shard producers' own run key (`context.shard_run_key`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from typing import Any

from bulkscan.core.paths import INCLUDE_DIR
from bulkscan.glue.connections import connect_factory
from bulkscan.glue.time_limit import kill_after, own_time_limit, planned_time_limits, time_limit
from bulkscan.jobs.member_scoring import context as ctx
from bulkscan.jobs.member_scoring.settings import ScoringSettings
from bulkscan.jobs.shard_query.hostplan import plan_units
from bulkscan.jobs.shard_query.packing import ShardUnit
from bulkscan.jobs.shard_query.runner import ShardRun, run_unit
from bulkscan.jobs.shard_query.topology import load_topology

log = logging.getLogger(__name__)


def plan_shards(params: Mapping[str, Any], planned: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The shard fan-out's units for the day (empty without a topology), planned by the shard planner."""
    settings = ScoringSettings.from_params(params)
    if not settings.shards or settings.mode != "apply":
        return []
    day = date.fromisoformat(str(planned["day"]))
    topology = load_topology(settings.shards, base_dir=INCLUDE_DIR)
    units = plan_units(topology, connect_factory, settings.shard_settings(day))
    run_key = ctx.shard_run_key(str(planned["run_key"]))
    log.info("day %s: %d shard units over %d hosts", day, len(units), len(topology.hosts))
    connect = ctx.scoring_connect(settings)
    rate = ctx.scoring_store(settings, connect, str(planned["database"])).slowest_recent_rate(ctx.shard_run_key)
    limits = planned_time_limits([u.planned_rows for u in units], rate, settings.chunk_time_limit_s, "task", log)
    return [
        {**u.as_dict(), "label": f"{day} {u.label}", "run_key": run_key, "day": str(day), "time_limit_s": limit}
        for u, limit in zip(units, limits, strict=True)
    ]


def scan_shard(payload: Mapping[str, Any], params: Mapping[str, Any], try_number: int) -> dict[str, Any]:
    """Sum one shard unit's flows per uid into the same partial store (keyed by shard run and chunk)."""
    settings = ScoringSettings.from_params(params)
    unit = ShardUnit.from_dict(payload)
    day = date.fromisoformat(str(payload["day"]))
    connect = ctx.scoring_connect(settings)
    db = ctx.scoring_db(settings, connect)
    run = ShardRun(
        settings.shard_settings(day),
        ctx.results_store(settings, connect, db),
        str(payload["run_key"]),
        try_number,
        statement_deadline=kill_after,  # a query blocked on the server ends with the first limit to end
    )
    limit = own_time_limit(payload, settings.chunk_time_limit_s)
    with time_limit(limit, f"shard task {payload.get('label') or unit.label}"):
        answers = run_unit(unit, connect_factory(unit.conn_id, unit.database), run)
    return {"items": len(answers), "rows": sum(a.rows for a in answers)}
