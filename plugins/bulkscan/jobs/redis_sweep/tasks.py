"""Airflow side of the Redis Cluster sweep: Params, and the plan / sweep_node / finalize task bodies.

The DAG file only wires these together; the work is in bulkscan.redisnodes (Redis, no Airflow) and
bulkscan.core.sweep (pure).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bulkscan.core.sweep import SweepCounts, SweepSpec, validate_run_token
from bulkscan.errors import BulkscanInputError, ReconcileError
from bulkscan.glue.defaults import fail_fast_on_bad_input
from bulkscan.redisnodes.audit import merge_audits
from bulkscan.redisnodes.connect import RedisSettings, discover_stable
from bulkscan.redisnodes.sweeper import mop_up, sweep_node

log = logging.getLogger(__name__)
DEFAULT_CONN_ID = "bulkscan_redis"


def params() -> dict[str, Any]:
    """The trigger form: every field typed, bounded and explained."""
    from airflow.sdk import Param

    return {
        "redis_conn_id": Param(
            DEFAULT_CONN_ID,
            type="string",
            pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,249}$",
            title="Redis connection",
            description='Airflow Redis connection. Extra {"cluster": true} (and optionally "startup_nodes") '
            "for a Redis Cluster; without it a standalone server is swept as one node.",
        ),
        "pattern": Param(
            "*",
            type="string",
            minLength=1,
            maxLength=1000,
            title="Key pattern",
            description="SCAN MATCH glob of the hashes to sweep, e.g. user:*.",
        ),
        "source_field": Param(
            "field_1",
            type="string",
            minLength=1,
            maxLength=200,
            title="Source field",
            description="Hash field whose value is added. Only a positive 64-bit integer is added; missing, "
            "zero, negative or non-integer values leave the key untouched and are counted.",
        ),
        "target_field": Param(
            "field_2",
            type="string",
            minLength=1,
            maxLength=200,
            title="Target field",
            description="Hash field that grows by the source value (HINCRBY).",
        ),
        "marker_field": Param(
            "_bulkscan_sweep",
            type="string",
            minLength=1,
            maxLength=200,
            title="Marker field",
            description="Hash field holding '<run>|<increment>|<new value>' once a key is applied in a run: "
            "makes the sweep exactly once per run (SCAN duplicates, retries, re-runs).",
        ),
        "scan_count": Param(
            1000,
            type="integer",
            minimum=10,
            maximum=100_000,
            title="SCAN COUNT",
            description="Keys per SCAN page; each page is one server-side script call on its node.",
        ),
        "key_type": Param(
            "hash",
            type="string",
            enum=["hash", ""],
            title="SCAN TYPE filter",
            description="'hash' lets the server skip keys of other types; '' scans every type.",
        ),
        "audit_dir": Param(
            "",
            type="string",
            maxLength=1000,
            title="Audit directory",
            description="Where the per-node audit files <run>__<node>.csv.gz go (key, increment, new "
            "value). Empty: $BULKSCAN_AUDIT_DIR or $AIRFLOW_HOME/bulkscan-audit/redis-sweep.",
        ),
    }


def run_token(dag_id: str, run_id: str) -> str:
    return validate_run_token(f"{dag_id}/{run_id}")


def audit_dir(p: Mapping[str, Any]) -> Path:
    chosen = p.get("audit_dir") or os.environ.get("BULKSCAN_AUDIT_DIR")
    if not chosen:
        chosen = Path(os.environ.get("AIRFLOW_HOME", ".")) / "bulkscan-audit" / "redis-sweep"
    return Path(chosen)


def settings(conn_id: str) -> RedisSettings:
    """Connection details from Airflow (read the way the redis provider's RedisHook reads them)."""
    from airflow.providers.redis.hooks.redis import RedisHook

    return RedisSettings.from_connection(RedisHook.get_connection(conn_id))


@fail_fast_on_bad_input
def plan(p: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Validate the params (before any data is touched) and list the primaries, one per mapped task."""
    SweepSpec.from_params(p)
    if not isinstance(p.get("redis_conn_id"), str):
        raise BulkscanInputError("redis_conn_id is required")
    topo = discover_stable(settings(p["redis_conn_id"]))
    topo.require_covered()
    nodes = topo.plan()
    log.info("sweeping %d primaries: %s", len(nodes), ", ".join(n["label"] for n in nodes))
    return nodes


def sweep(node: Mapping[str, Any], p: Mapping[str, Any], token: str) -> dict[str, Any]:
    """One primary: SCAN + one script call per page; counters for XCom (the rows are in the audit file)."""
    result = sweep_node(settings(p["redis_conn_id"]), node, SweepSpec.from_params(p), token, audit_dir(p))
    log.info("%s: %s", node["label"], result)
    return result


def finalize(
    nodes: Sequence[Mapping[str, Any]], results: Sequence[Mapping[str, Any]], p: Mapping[str, Any], token: str
) -> dict[str, Any]:
    """Mop up slots that moved during the sweep, then add the nodes up and prove nothing was applied twice:
    every key appears in the run's audit files with one (increment, new value), and no more increments
    were applied than distinct keys carry them."""
    conn = settings(p["redis_conn_id"])
    spec = SweepSpec.from_params(p)
    mop = mop_up(conn, list(nodes), spec, token, audit_dir(p))
    totals, _ = merge_audits(audit_dir(p), token)
    counts = SweepCounts.total([*results, mop])
    if counts.applied > totals.keys:
        raise ReconcileError(f"{counts.applied} increments applied but only {totals.keys} keys carry one")
    missing = [r["label"] for r in results if not Path(r["audit"]).exists()]
    if missing:
        raise ReconcileError(f"audit files missing for {missing}")
    summary = {
        "nodes": len(results),
        "keys_incremented": totals.keys,
        "increment_sum": totals.increment_sum,
        "applied_by_final_attempts": counts.applied,
        "mop_up": {"rounds": mop["rounds"], "slots": mop["slots"], "applied": mop["applied"]},
        **{k: v for k, v in counts.to_dict().items() if k not in ("applied", "done_before", "audited")},
        "audit_dir": str(audit_dir(p)),
        "audit_files": totals.files,
    }
    log.info("sweep summary: %s", summary)
    return summary
