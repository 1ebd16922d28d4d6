"""
### bulkscan_redis_sweep: per-node sweep of a Redis Cluster, exactly once

For every hash matching *Key pattern*, *Target field* grows by the value of *Source field* (the seed job:
`field_2 += field_1`), and every change is written to an audit file (key, increment, new value) in the
audit store, a folder every worker sees (`audit_store` Param, else the Airflow Variable `bulkscan_audit_store`).

* `plan` asks the cluster (CLUSTER NODES through the Airflow Redis connection) for its primaries;
  replicas and failed nodes are skipped, a standalone server is one node. Each primary is one mapped
  `sweep_node` task, shown as "127.0.0.1:7001 (slots 0-5460)".
* `sweep_node` SCANs its node (MATCH, COUNT, TYPE hash) and applies each page with **one server-side
  script call** (Redis 7 `allow-cross-slot-keys`), not two round trips per key.
* **Exactly once**: the script sets a per-run marker field in the same atomic step as the increment,
  so SCAN duplicates, a retried or cleared node task, or a re-run never add twice. Source values that
  are missing, zero, negative or not an integer leave the key untouched and are counted.
* A failover mid-sweep moves the task to the promoted replica; keys whose slot moved (resharding) are
  applied where they live now, and `finalize` mops up the slots whose owner changed, then sums the
  nodes and checks the audit files: one row per key, nothing applied twice.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, get_current_context, task

from bulkscan.glue import assets
from bulkscan.glue.defaults import DAGRUN_TIMEOUT, POOL_REDIS, default_args, mapped
from bulkscan.jobs.redis_sweep import tasks as rs
from bulkscan.jobs.redis_sweep.form import params
from bulkscan.jobs.redis_sweep.settings import run_token
from bulkscan.redisnodes.topology import NodePlan


@dag(
    dag_id="bulkscan_redis_sweep",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=DAGRUN_TIMEOUT,
    default_args=default_args(),
    params=params(),
    tags=["bulkscan", "redis", "cluster"],
    doc_md=__doc__,
)
def bulkscan_redis_sweep() -> None:
    @task
    def plan() -> list[NodePlan]:
        ctx = get_current_context()
        ti = ctx["ti"]
        return rs.plan(ctx["params"], run_token(ti.dag_id, ti.run_id))

    @task(**mapped(POOL_REDIS, "node_label"))
    def sweep_node(node: NodePlan) -> dict[str, Any]:
        ctx = get_current_context()
        ctx["node_label"] = node["label"]  # type: ignore[typeddict-unknown-key]
        ti = ctx["ti"]
        return rs.sweep(node, ctx["params"], run_token(ti.dag_id, ti.run_id))

    @task(outlets=[assets.REDIS_SWEEP_APPLIED])
    def finalize(nodes: list[NodePlan], results: list[dict[str, Any]]) -> dict[str, Any]:
        ctx = get_current_context()
        ti = ctx["ti"]
        # Index the lazy XCom sequence (iterating it probes one offset past the end and logs a 404).
        done = [results[i] for i in range(len(results))]
        summary = rs.finalize(nodes, done, ctx["params"], run_token(ti.dag_id, ti.run_id))
        assets.emit(ctx, assets.REDIS_SWEEP_APPLIED, summary)
        return summary

    nodes = plan()
    finalize(nodes, sweep_node.expand(node=nodes))  # type: ignore[arg-type]  # XComArgs resolve at run time


bulkscan_redis_sweep()
