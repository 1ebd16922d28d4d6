"""Member scoring's Redis producers: real-time points folded into the day exactly once, per primary.

The fold itself is `points` (the Redis sweep with a move); these task bodies plan the primaries, fold
one, store its per-uid partials, and mop up keys whose slot moved meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from bulkscan.core.chunks import Chunk
from bulkscan.glue.connections import redis_settings
from bulkscan.glue.defaults import fail_fast_on_bad_input
from bulkscan.glue.storage import audit_store, check_shared, open_for_run
from bulkscan.glue.time_limit import node_time_limits, own_time_limit, time_limit
from bulkscan.jobs.member_scoring import context as ctx
from bulkscan.jobs.member_scoring.points import PointsFold, fold_mop_up, fold_node
from bulkscan.jobs.member_scoring.rules import day_token
from bulkscan.jobs.member_scoring.settings import RedisPoints, ScoringSettings
from bulkscan.mysqldb.results import ChunkOutcome
from bulkscan.redisnodes.audit import read_rate, write_rates
from bulkscan.redisnodes.connect import discover_stable
from bulkscan.redisnodes.sweeper import SweepHooks

log = logging.getLogger(__name__)
JOB = "member_scoring"
NODE_KEYS = ("ui_label", "run_key", "day", "replay", "index")  # what plan_redis adds to a sweep plan


def _points(settings: ScoringSettings) -> RedisPoints:
    if settings.redis is None:
        raise AssertionError("a Redis producer runs only with a Redis points connection")
    return settings.redis


def _fold(settings: ScoringSettings, day: date, replay: bool) -> PointsFold:
    where = _points(settings)
    store = audit_store(None, "member-scoring")
    return PointsFold(redis_settings(where.redis_conn_id), where.spec(day, replay), day, store, where.key_prefix)


@fail_fast_on_bad_input
def plan_redis(params: Mapping[str, Any], planned: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One mapped producer per Redis primary holding points (empty when no Redis connection is set).

    A re-run of an applied day replays what that day folded (moves nothing new)."""
    settings = ScoringSettings.from_params(params)
    if settings.redis is None or settings.mode != "apply":
        return []
    day = date.fromisoformat(str(planned["day"]))
    replay = planned.get("step") == "rerun"
    settings.redis.spec(day, replay)
    store = audit_store(None, "member-scoring")
    open_for_run(store, day_token(day))
    where = redis_settings(settings.redis.redis_conn_id)
    topo = discover_stable(where)
    topo.require_covered()
    # each producer's own time limit: its keys at the last fold's rate (redis_mop_up records it)
    rate = read_rate(store, settings.redis.redis_conn_id)
    nodes = node_time_limits(topo.plan(), where, rate, settings.chunk_time_limit_s, log)
    run_key = ctx.redis_run_key(str(planned["run_key"]))
    log.info("day %s: folding Redis points from %d primaries (%s)", day, len(nodes), "replay" if replay else "move")
    return [
        {
            **n,
            "index": i,
            "ui_label": f"{day} redis {n['label']}",
            "run_key": run_key,
            "day": str(day),
            "replay": replay,
        }
        for i, n in enumerate(nodes)
    ]


def _write_points(
    settings: ScoringSettings, node: Mapping[str, Any], groups: dict[int, list[int]], source: str, try_number: int
) -> None:
    """A producer's per-uid sums as one chunk of its run (replacing an earlier attempt's)."""
    connect = ctx.scoring_connect(settings)
    db = ctx.scoring_db(settings, connect)
    rows = sum(g[1] for g in groups.values())
    outcome = ChunkOutcome(JOB, source, rows, 0.0, try_number, groups=groups)
    ctx.results_store(settings, connect, db).replace_chunk(
        str(node["run_key"]), Chunk(int(node["index"]), 0, 0), outcome
    )


@fail_fast_on_bad_input
def scan_redis(
    node: Mapping[str, Any], params: Mapping[str, Any], try_number: int, hooks: SweepHooks | None = None
) -> dict[str, Any]:
    """Fold one primary's pending points into the day (exactly once) and store them as per-uid partials."""
    settings = ScoringSettings.from_params(params)
    fold = _fold(settings, date.fromisoformat(str(node["day"])), bool(node.get("replay")))
    check_shared(fold.store, day_token(fold.day))
    limit = own_time_limit(node, settings.chunk_time_limit_s)
    with time_limit(limit, f"Redis producer {node.get('ui_label') or node['label']}"):
        result, groups = fold_node(fold, node, hooks)
    _write_points(settings, node, groups, f"redis:{node['label']}", try_number)
    keep = ("label", "swept", "audit", "applied", "done_before", "not_a_uid", "scanned", "seconds")
    out = {k: result.get(k) for k in keep}
    out["members"] = len(groups)
    log.info("%s: %s", node["label"], out)
    return out


@fail_fast_on_bad_input
def redis_mop_up(
    params: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]], node_results: Sequence[Mapping[str, Any]]
) -> int:
    """Keys whose slot moved during the fold, as one more chunk (index = node count); returns chunks."""
    settings = ScoringSettings.from_params(params)
    first = nodes[0]
    fold = _fold(settings, date.fromisoformat(str(first["day"])), bool(first.get("replay")))
    check_shared(fold.store, day_token(fold.day))
    plan = [{k: v for k, v in n.items() if k not in NODE_KEYS} for n in nodes]
    result, groups = fold_mop_up(fold, plan, [str(r["audit"]) for r in node_results])
    # the producers' rates, for the next plan's time limits
    write_rates(fold.store, _points(settings).redis_conn_id, day_token(fold.day), node_results)
    log.info("Redis mop-up: %s rounds, %d members from keys that moved during the fold", result["rounds"], len(groups))
    mop = {"run_key": first["run_key"], "index": len(nodes)}
    _write_points(settings, mop, groups, "redis:mop-up", 1)
    return len(nodes) + 1
