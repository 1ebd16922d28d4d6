"""Task bodies of `bulkscan_redis_sweep`: plan, sweep one node, finalize.

The DAG file only wires these together; the rules are in bulkscan.core.sweep and `rules` (pure), the
Redis work in bulkscan.redisnodes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from bulkscan.core.sweep import SweepCounts
from bulkscan.errors import ReconcileError
from bulkscan.glue.connections import redis_settings
from bulkscan.glue.defaults import fail_fast_on_bad_input
from bulkscan.glue.storage import audit_store, check_shared, open_for_run
from bulkscan.glue.time_limit import node_time_limits, own_time_limit, time_limit
from bulkscan.jobs.redis_sweep.settings import SweepSettings
from bulkscan.redisnodes.audit import audit_path, merge_audits, read_rate, write_rates
from bulkscan.redisnodes.connect import discover_stable
from bulkscan.redisnodes.mopup import mop_up
from bulkscan.redisnodes.sweeper import sweep_node
from bulkscan.redisnodes.topology import NodePlan

log = logging.getLogger(__name__)


JOB = "redis-sweep"


@fail_fast_on_bad_input
def plan(params: Mapping[str, Any], run_token: str) -> list[NodePlan]:
    """Validate the params and the audit store (before any data is touched) and list the primaries, one
    per mapped task."""
    settings = SweepSettings.from_params(params)
    store = audit_store(settings.audit_store, JOB)
    open_for_run(store, run_token)
    where = redis_settings(settings.redis_conn_id)
    topo = discover_stable(where)
    topo.require_covered()
    nodes = topo.plan()
    log.info("sweeping %d primaries: %s", len(nodes), ", ".join(n["label"] for n in nodes))
    # each node task's own time limit: its keys at the connection's last run's rate (finalize records it)
    rate = read_rate(store, settings.redis_conn_id)
    return node_time_limits(nodes, where, rate, settings.chunk_time_limit_s, log)


@fail_fast_on_bad_input
def sweep(node: Mapping[str, Any], params: Mapping[str, Any], run_token: str) -> dict[str, Any]:
    """One primary: SCAN + one script call per page; counters for XCom (the rows are in the audit file)."""
    settings = SweepSettings.from_params(params)
    store = audit_store(settings.audit_store, JOB)
    check_shared(store, run_token)
    limit = own_time_limit(node, settings.chunk_time_limit_s)
    with time_limit(limit, f"node task {node['label']}"):
        result = sweep_node(redis_settings(settings.redis_conn_id), node, settings.spec, run_token, store)
    log.info("%s: %s", node["label"], result)
    return result


@fail_fast_on_bad_input
def finalize(
    nodes: Sequence[Mapping[str, Any]], results: Sequence[Mapping[str, Any]], params: Mapping[str, Any], run_token: str
) -> dict[str, Any]:
    """Mop up slots that moved during the sweep, then add the nodes up and prove nothing was applied twice:
    every key appears in the run's audit files with one (increment, new value), and no more increments
    were applied than distinct keys carry them."""
    settings = SweepSettings.from_params(params)
    store = audit_store(settings.audit_store, JOB)
    check_shared(store, run_token)
    mop = mop_up(redis_settings(settings.redis_conn_id), list(nodes), settings.spec, run_token, store)
    totals, _ = merge_audits(store, run_token)
    counts = SweepCounts.total([*results, mop])
    if counts.applied > totals.keys:
        raise ReconcileError(f"{counts.applied} increments applied but only {totals.keys} keys carry one")
    missing = [r["label"] for r in results if not audit_path(store, r["audit"]).exists()]
    if missing:
        raise ReconcileError(f"audit files missing for {missing}")
    summary = {
        "nodes": len(results),
        "keys_incremented": totals.keys,
        "increment_sum": totals.increment_sum,
        "applied_by_final_attempts": counts.applied,
        "mop_up": {"rounds": mop["rounds"], "slots": mop["slots"], "applied": mop["applied"]},
        **{k: v for k, v in counts.to_dict().items() if k not in ("applied", "done_before", "audited")},
        "audit_store": str(store),
        "audit_files": totals.files,
    }
    write_rates(store, settings.redis_conn_id, run_token, results)  # the next plan's time limits
    log.info("sweep summary: %s", summary)
    return summary
