"""Airflow side of the per-shard fan-out: Params, and the plan / scan_shard / merge task bodies.

The DAG file only wires these together; the work is in bulkscan.jobs.shard_query.topology (pure) and
bulkscan.jobs.shard_query.runner (MySQL, no Airflow).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from bulkscan.core.identifiers import validate_identifier
from bulkscan.core.paths import INCLUDE_DIR
from bulkscan.errors import BulkscanInputError
from bulkscan.glue import params as fields
from bulkscan.glue.connections import connect_factory, describe
from bulkscan.glue.defaults import fail_fast_on_bad_input
from bulkscan.jobs.shard_query.runner import (
    ShardSettings,
    check_store,
    merge,
    plan_units,
    run_unit,
)
from bulkscan.jobs.shard_query.topology import Answer, ShardUnit, Topology, load_topology, reconcile
from bulkscan.mysqldb.connect import ConnectFactory
from bulkscan.mysqldb.results import ResultStore

log = logging.getLogger(__name__)


def params() -> dict[str, Any]:
    """The trigger form: every field typed, bounded and explained."""
    from airflow.sdk import Param

    return {
        "topology": Param(
            "shards.json",
            type=["string", "object"],
            title="Shard topology",
            description="A .json file under include/ (e.g. shards.json), or the topology itself: "
            '{"database": "db", "hosts": {"<mysql conn id>": "table_000-015" | ["table_016-020", "table_031"] '
            '| {"database": ..., "tables": ...}}}. Overlaps, duplicates, bad ranges and unknown connection '
            "ids fail before any query runs.",
        ),
        "key_column": fields.key_column("Indexed integer column of every shard table (big shards are chunked on it)."),
        **fields.processor_fields("grp", "amount"),
        "filters": fields.filters(" in every shard"),
        "query_file": Param(
            None,
            type=["null", "string"],
            pattern=r"^[a-z][a-z0-9_]{0,63}(\.sql)?$",
            title="Query file (optional)",
            description="Your own per-shard query instead of the processor: a file under include/sql/ "
            "(e.g. shard_query_example.sql) that returns (group, value, count) rows "
            "FROM {table} WHERE {range} ...; bulkscan fills in the checked table and the key range, "
            "every other value is a %(name)s parameter from 'Query parameters'. Checked against "
            "every host before any scan.",
        ),
        "query_params": Param(
            {},
            type="object",
            title="Query parameters",
            description='Values bound to the query file\'s %(name)s parameters, e.g. {"min_amount": 100}.',
        ),
        "tables_per_task": Param(
            1,
            type="integer",
            minimum=1,
            maximum=256,
            title="Tables or chunks per task",
            description="1: every shard table (and every chunk of a big one) is its own mapped task. "
            "k > 1: a host's tables and chunks are packed k per task, run side by side within the "
            "per-host cap (fewer, wider tasks; a retry re-runs the whole task).",
        ),
        "rows_per_chunk": Param(
            5_000_000,
            type="integer",
            minimum=1_000,
            maximum=100_000_000,
            title="Rows per chunk",
            description="A shard estimated at more than 1.5 times this is split into about "
            "estimate / rows-per-chunk ID-range chunks of near-equal rows, part of the same fan-out.",
        ),
        "max_chunks_per_table": Param(
            64,
            type="integer",
            minimum=1,
            maximum=1024,
            title="Maximum chunks per shard",
            description="Upper bound on the chunks of one shard table.",
        ),
        "max_queries_per_host": Param(
            2,
            type="integer",
            minimum=1,
            maximum=64,
            title="Maximum queries per host",
            description="Never more than this many scans at once against one MySQL "
            "server, however many shard tasks are ready (a slot semaphore held on the "
            "server itself, shared by every worker).",
        ),
        "results_conn_id": Param(
            "bulkscan_mysql",
            type="string",
            minLength=1,
            title="Results connection id",
            description="Where bulkscan writes its own result tables (not a shard host).",
        ),
        "results_schema": fields.results_schema(),
    }


def settings(p: Mapping[str, Any]) -> ShardSettings:
    """Params -> validated settings (bad values are input errors before any query)."""
    processor = str(p.get("processor") or "aggregate")
    if p.get("query_file"):
        processor = "sql_file"
        kwargs: dict[str, Any] = {"file": p["query_file"], "params": dict(p.get("query_params") or {})}
    elif processor == "aggregate":
        kwargs = {
            "group": p.get("group_column") or None,
            "value": p.get("value_column"),
        }
    elif processor == "count":
        kwargs = {}
    else:
        kwargs = dict(p.get("processor_args") or {})
    return ShardSettings(
        key=validate_identifier(p.get("key_column") or "id", "key column"),
        processor=processor,
        processor_kwargs=kwargs,
        filters=list(p.get("filters") or []),
        chunk_rows=p.get("rows_per_chunk", 5_000_000),
        max_chunks=p.get("max_chunks_per_table", 64),
        group_size=p.get("tables_per_task", 1),
        max_per_host=p.get("max_queries_per_host", 2),
    )


def topology(p: Mapping[str, Any]) -> Topology:
    return load_topology(p.get("topology") or "shards.json", base_dir=INCLUDE_DIR)


def connector(conn_id: str, database: str) -> ConnectFactory:
    return connect_factory(conn_id, database)


def store(p: Mapping[str, Any]) -> ResultStore:
    schema = validate_identifier(p.get("results_schema") or "bulkscan", "results schema")
    return ResultStore(connect_factory(str(p.get("results_conn_id") or "bulkscan_mysql")), schema)


def run_key(dag_id: str, run_id: str) -> str:
    return f"{dag_id}/{run_id}"


def _describe(conn_id: str) -> str:
    try:
        return describe(conn_id)
    except Exception:  # noqa: BLE001 - only used to enrich an error message
        return "?"


@fail_fast_on_bad_input
def plan(p: Mapping[str, Any], max_map_length: int) -> list[dict[str, Any]]:
    """Validate topology, params and every connection id (no query yet), then plan all hosts."""
    topo = topology(p)
    s = settings(p)
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
    results = store(p)
    results.ensure()
    units = plan_units(topo, connector, s)
    if len(units) > max_map_length:
        raise BulkscanInputError(
            f"{len(units)} shard tasks exceed Airflow's max_map_length {max_map_length}: "
            "raise 'Tables or chunks per task' or 'Rows per chunk'"
        )
    log.info(
        "%d shard tables on %d hosts -> %d mapped tasks",
        len(topo.tables),
        len(topo.hosts),
        len(units),
    )
    return [{**u.as_dict(), "label": u.label} for u in units]


def scan(unit_data: Mapping[str, Any], p: Mapping[str, Any], key: str, try_number: int) -> list[dict[str, Any]]:
    """One mapped task: the unit's tables (or chunk) under the per-host cap; results keyed by run."""
    topo = topology(p)
    unit = ShardUnit.from_dict(unit_data)
    host = topo.host(unit.conn_id)  # the table name reaches SQL only if it matches the topology
    strays = [i.table for i in unit.items if i.table not in host.tables]
    if strays or unit.database != host.database:
        raise BulkscanInputError(f"unit {unit.label} does not match the topology ({strays or unit.database})")
    answers = run_unit(
        unit,
        connector(unit.conn_id, unit.database),
        settings(p),
        store(p),
        key,
        try_number,
        describe=_describe,
        logger=log,
    )
    return [a.as_dict() for a in answers]


def summarize(
    units_data: Iterable[Mapping[str, Any]],
    results: Iterable[Iterable[Mapping[str, Any]]],
    p: Mapping[str, Any],
    key: str,
) -> dict[str, Any]:
    """Reconcile (every topology table answered exactly once), then merge the per-shard partial sums."""
    topo = topology(p)
    units = [ShardUnit.from_dict(u) for u in units_data]
    answers = [Answer.from_dict(a) for batch in results for a in batch]
    rows = reconcile(topo, units, answers)
    results_store = store(p)
    check_store(results_store, key, answers)
    source = p["topology"] if isinstance(p.get("topology"), str) else "inline topology"
    merged = merge(results_store, key, str(source), answers)
    top = results_store.top(key, 5)
    log.info(
        "merged %d shard tables, %s rows, %d groups",
        len(rows),
        f"{merged.rows:,}",
        merged.groups,
    )
    return {
        "run_key": key,
        "hosts": len(topo.hosts),
        "tables": len(rows),
        "tasks": len(units),
        "rows": merged.rows,
        "groups": merged.groups,
        "value_sum": str(merged.value_sum) if merged.value_sum is not None else None,
        "top": [[g, str(s), n] for g, s, n in top],
    }


__all__ = ["INCLUDE_DIR", "params", "plan", "run_key", "scan", "summarize"]
