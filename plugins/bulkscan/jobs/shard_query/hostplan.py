"""Plan a shard fan-out: every host checked and planned before any scan (MySQL, no Airflow).

Per host: the topology's ranges and patterns are resolved against the tables that exist (one
information_schema query for all of them: `resolve_host`), the key,
columns and filters are checked (the first shard fully, the others by comparing their shape), a
query file is dry-run, and big shards are split into near-equal ID-range chunks from the row
estimate. Connections come from a `ConnectorFor` (conn id, database) -> ConnectFactory, so Airflow
connection ids and plain host/port both work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import MySQLdb

from bulkscan.core.chunks import KEY_END, KEY_MIN, Chunk
from bulkscan.core.dbapi import ConnectFactory, Connection, Cursor
from bulkscan.core.processors import SqlFileAggregate
from bulkscan.core.sqlfiles import raw
from bulkscan.core.tablespec import TableSpec, parse_filters
from bulkscan.errors import BulkscanError, BulkscanInputError
from bulkscan.jobs.shard_query.packing import ShardUnit, TableKey, build_units
from bulkscan.jobs.shard_query.settings import ShardSettings
from bulkscan.jobs.shard_query.topology import Host, Topology, resolve_host
from bulkscan.mysqldb.connect import close_quietly, connection, is_disconnect
from bulkscan.mysqldb.planner import plan_balanced
from bulkscan.mysqldb.scanner import aggregate_queries
from bulkscan.mysqldb.source import resolve_table

log = logging.getLogger(__name__)
ConnectorFor = Callable[[str, str], ConnectFactory]
Shapes = dict[str, tuple[dict[str, str], set[str]]]  # table -> ({column: type}, columns leading an index)
HostPlan = dict[TableKey, list[Chunk] | None]


def resolve_shard(conn: Connection, database: str, table: str, settings: ShardSettings) -> TableSpec:
    """The full information_schema check of one shard table."""
    return resolve_table(conn, database, table, settings.key_column, settings.columns(), settings.filters)


def _shapes(cur: Cursor, database: str) -> Shapes:
    """Columns, types and index-leading columns of every table of a host: two queries per host."""
    shapes: Shapes = {}
    cur.execute(raw("shard_query/shard_columns"), (database,))
    for table, column, dtype in cur.fetchall():
        shapes.setdefault(table, ({}, set()))[0][column] = str(dtype).lower()
    cur.execute(raw("shard_query/shard_leading_columns"), (database,))
    for table, column in cur.fetchall():
        shapes.setdefault(table, ({}, set()))[1].add(column)
    return shapes


def _shape(shapes: Shapes, table: str, settings: ShardSettings) -> tuple[Any, ...]:
    """What a scan relies on: the needed columns' types and whether the key leads an index."""
    columns, leading = shapes.get(table, ({}, set()))
    filter_cols = [f.column for f in parse_filters(settings.filters)]
    needed = dict.fromkeys([settings.key_column, *settings.columns(), *filter_cols])
    return (*tuple((c, columns.get(c)) for c in needed), settings.key_column in leading)


def plan_host(host: Host, connect: ConnectFactory, settings: ShardSettings) -> tuple[Host, HostPlan]:
    """Resolve, validate and plan every table of one host: (the host with its tables as they exist, plan).

    Missing tables or columns are input errors for the whole run; a down host is not: its tables
    (as written) are scanned whole by their own tasks, which then fail (or succeed once it is back)
    on their own. A down host whose tables only a listing can name (a pattern) fails the plan.
    """
    try:
        conn = connect()
    except MySQLdb.OperationalError as exc:
        if not is_disconnect(exc):
            raise
        if host.discovers:
            raise BulkscanError(
                f"host {host.conn_id!r} is unreachable, so its table pattern cannot be listed: {exc}"
            ) from exc
        log.warning("host %s is unreachable at plan time (%s); its tables run unplanned", host.conn_id, exc)
        return host, {(host.conn_id, t): None for t in host.tables}
    try:
        cur = conn.cursor()
        estimates = _existing(cur, host.database)
        resolved = resolve_host(host, estimates.keys())
        return resolved, _plan_tables(conn, resolved, estimates, settings)
    finally:
        close_quietly(conn)


def _existing(cur: Cursor, database: str) -> dict[str, int]:
    """Row estimates of every base table of a host's database."""
    cur.execute(raw("shard_query/shard_tables"), (database,))
    return {name: int(rows or 0) for name, rows in cur.fetchall()}


def list_host(host: Host, connect: ConnectFactory) -> Host:
    """The host resolved against what exists now (summarize compares it with what was planned)."""
    with connection(connect) as conn:
        return resolve_host(host, _existing(conn.cursor(), host.database).keys())


def _plan_tables(conn: Connection, host: Host, estimates: dict[str, int], settings: ShardSettings) -> HostPlan:
    cur = conn.cursor()
    shapes = _shapes(cur, host.database)
    reference: tuple[Any, ...] | None = None
    plans: HostPlan = {}
    for table in host.tables:
        shape = _shape(shapes, table, settings)
        if shape != reference:  # the first table, or one that differs: the full information_schema check
            dry_run(conn, resolve_shard(conn, host.database, table, settings), settings)
            reference = reference or shape
        if round(estimates[table] / settings.rows_per_chunk) <= 1:
            # no more than 1.5 chunks' worth: one whole-table range, no planning pass
            plans[(host.conn_id, table)] = [Chunk(0, KEY_MIN, KEY_END, estimates[table])]
        else:  # near-equal chunks from the estimate: walks the inner boundaries only
            spec = settings.spec_for(host.database, table)
            planned = plan_balanced(
                conn, spec, settings.rows_per_chunk, settings.max_chunks_per_table, estimates[table]
            )
            plans[(host.conn_id, table)] = planned.chunks
    return plans


def dry_run(conn: Connection, spec: TableSpec, settings: ShardSettings) -> None:
    """Run a query file against a shard with an empty key range, so a syntax error, an unknown column or
    a wrong result shape fails the plan (naming the file) before any scan starts."""
    processor = settings.make_processor()
    if not isinstance(processor, SqlFileAggregate):
        return
    _, _, range_sql, range_params = aggregate_queries(spec, processor)
    cur = conn.cursor()
    try:
        cur.execute(range_sql, range_params(0, 0))
        cur.fetchall()
    except MySQLdb.Error as exc:
        if is_disconnect(exc):
            raise
        raise BulkscanInputError(f"query file {processor.query.name}.sql on {spec.table}: {exc}") from exc
    if len(cur.description or ()) != 3:
        raise BulkscanInputError(
            f"query file {processor.query.name}.sql must return 3 columns (group, value, count), "
            f"returns {len(cur.description or ())}"
        )


def plan_units(topology: Topology, connect_for: ConnectorFor, settings: ShardSettings) -> list[ShardUnit]:
    """Plan all hosts in parallel (one connection each) and expand into one flat list of units."""
    plans: HostPlan = {}
    hosts: list[Host] = []
    with ThreadPoolExecutor(max_workers=min(8, len(topology.hosts))) as pool:
        futures = [pool.submit(plan_host, h, connect_for(h.conn_id, h.database), settings) for h in topology.hosts]
        for f in futures:
            host, plan = f.result()
            hosts.append(host)
            plans.update(plan)
    return build_units(Topology(tuple(hosts)), plans, settings.tables_per_task, settings.units_per_host())


def resolve_topology(topology: Topology, connect_for: ConnectorFor) -> Topology:
    """Every host's tables as they exist now (one information_schema query per host, in parallel)."""
    with ThreadPoolExecutor(max_workers=min(8, len(topology.hosts))) as pool:
        futures = [pool.submit(list_host, h, connect_for(h.conn_id, h.database)) for h in topology.hosts]
        return Topology(tuple(f.result() for f in futures))
