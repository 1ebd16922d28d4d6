"""Task bodies of `bulkscan_shard_query`: plan, scan one unit, merge.

The DAG file only wires these together; the rules are in `topology` / `packing` / `settings`
(pure), the MySQL work in `hostplan` and `runner`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from bulkscan.core.dbapi import ConnectFactory
from bulkscan.core.identifiers import validate_identifier
from bulkscan.core.paths import INCLUDE_DIR
from bulkscan.core.report import chunk_table
from bulkscan.errors import BulkscanInputError
from bulkscan.glue.connections import connect_factory, describe_or_unknown
from bulkscan.glue.defaults import fail_fast_on_bad_input
from bulkscan.glue.time_limit import kill_after, own_time_limit, planned_time_limits, time_limit
from bulkscan.jobs.shard_query.hostplan import plan_units, resolve_topology
from bulkscan.jobs.shard_query.packing import Answer, AnswerPayload, ShardUnit, UnitPayload, reconcile
from bulkscan.jobs.shard_query.runner import ShardRun, check_store, merge, run_unit
from bulkscan.jobs.shard_query.settings import JOB, ShardSettings
from bulkscan.jobs.shard_query.topology import Topology, load_topology
from bulkscan.mysqldb.results import ResultStore

log = logging.getLogger(__name__)


def topology(params: Mapping[str, Any]) -> Topology:
    return load_topology(params.get("topology") or "shards.json", base_dir=INCLUDE_DIR)


def connector(conn_id: str, database: str) -> ConnectFactory:
    return connect_factory(conn_id, database)


def store(params: Mapping[str, Any]) -> ResultStore:
    schema = validate_identifier(params.get("results_schema") or "bulkscan", "results schema")
    return ResultStore(connect_factory(str(params.get("results_conn_id") or "bulkscan_mysql")), schema)


def source_name(params: Mapping[str, Any]) -> str:
    """What the results store files a run under: the topology file's name, or "inline topology"."""
    return params["topology"] if isinstance(params.get("topology"), str) else "inline topology"


@fail_fast_on_bad_input
def plan(params: Mapping[str, Any], max_map_length: int) -> list[UnitPayload]:
    """Validate topology, params and every connection id (no query yet), then plan all hosts."""
    topo = topology(params)
    settings = ShardSettings.from_params(params)
    unknown = []
    for conn_id in topo.conn_ids:
        try:
            connect_factory(conn_id)
        except BulkscanInputError:
            unknown.append(conn_id)
    if unknown:
        raise BulkscanInputError(
            f"unknown connection id(s) {', '.join(map(repr, unknown))} in the topology; "
            "define them as Airflow connections (e.g. AIRFLOW_CONN_<ID>)"
        )
    results_store = store(params)
    results_store.ensure()
    units = plan_units(topo, connector, settings)
    planned_tables = len({(u.conn_id, i.table) for u in units for i in u.items})
    if len(units) > max_map_length:
        raise BulkscanInputError(
            f"{len(units)} shard tasks exceed Airflow's max_map_length {max_map_length}: "
            "raise 'Tables or chunks per task' or 'Rows per chunk'"
        )
    log.info("%d shard tables on %d hosts -> %d mapped tasks", planned_tables, len(topo.hosts), len(units))
    return with_time_limits(units, settings, results_store.slowest_rate(JOB, source_name(params)))


def with_time_limits(
    units: list[ShardUnit], settings: ShardSettings, slowest_s_per_row: float | None
) -> list[UnitPayload]:
    """Each task's own time limit, derived from its planned rows and the topology's last run (or the
    form's bound, before a first run), as for a table scan's chunks; logged once for the plan."""
    limits = planned_time_limits(
        [u.planned_rows for u in units], slowest_s_per_row, settings.chunk_time_limit_s, "task", log
    )
    return [UnitPayload(**u.payload(), time_limit_s=limit) for u, limit in zip(units, limits, strict=True)]


def scan(payload: Mapping[str, Any], params: Mapping[str, Any], run_key: str, try_number: int) -> list[AnswerPayload]:
    """One mapped task: the unit's tables (or chunk) under the per-host cap; results keyed by run."""
    topo = topology(params)
    unit = ShardUnit.from_dict(payload)
    host = topo.host(unit.conn_id)  # the table name reaches SQL only if it matches the topology
    strays = [i.table for i in unit.items if not host.admits(i.table)]
    if strays or unit.database != host.database:
        raise BulkscanInputError(f"unit {unit.label} does not match the topology ({strays or unit.database})")
    settings = ShardSettings.from_params(params)
    run = ShardRun(
        settings,
        store(params),
        run_key,
        try_number,
        describe=describe_or_unknown,
        logger=log,
        statement_deadline=kill_after,  # a query blocked on the server ends with the first limit to end
    )
    limit = own_time_limit(payload, settings.chunk_time_limit_s)
    with time_limit(limit, f"shard task {payload.get('label') or unit.label}"):
        answers = run_unit(unit, connector(unit.conn_id, unit.database), run)
    return [a.as_dict() for a in answers]


def summarize(
    payloads: Iterable[Mapping[str, Any]],
    results: Iterable[Iterable[Mapping[str, Any]]],
    params: Mapping[str, Any],
    run_key: str,
) -> dict[str, Any]:
    """Reconcile (every table the topology names now answered exactly once), then merge the partial sums.

    The topology is listed again: a table that appeared after the plan is named as not planned, one
    that vanished as planned but no longer there, never a silent miss.
    """
    topo = resolve_topology(topology(params), connector)
    units = [ShardUnit.from_dict(u) for u in payloads]
    answers = [Answer.from_dict(a) for batch in results for a in batch]
    rows = reconcile(topo, units, answers)
    results_store = store(params)
    check_store(results_store, run_key, answers)
    merged = merge(results_store, run_key, source_name(params), answers)
    top = results_store.top(run_key, 5)
    log.info(
        "merged %d shard tables, %s rows, %d groups\n%s",
        len(rows),
        f"{merged.rows:,}",
        merged.groups,
        chunk_table(results_store.chunks(run_key)),
    )
    return {
        "run_key": run_key,
        "hosts": len(topo.hosts),
        "tables": len(rows),
        "tasks": len(units),
        "rows": merged.rows,
        "groups": merged.groups,
        "value_sum": str(merged.value_sum) if merged.value_sum is not None else None,
        "top": [[g, str(s), n] for g, s, n in top],
    }
