"""Run a shard fan-out without Airflow: plan hosts, run units under a per-host cap, merge.

The DAG's tasks call these functions one unit at a time; the benchmark and the concurrency test call
`run_units` to run every unit from a thread pool. Connections come from a `ConnectorFor` (conn id,
database) -> ConnectFactory, so Airflow connection ids and plain host/port both work.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import MySQLdb

from bulkscan.core.batching import AdaptiveBatch
from bulkscan.core.chunks import KEY_END, KEY_MIN, Chunk
from bulkscan.core.identifiers import validate_identifier
from bulkscan.core.processors import AggregateByKey, ChunkContext, SqlFileAggregate, load_processor
from bulkscan.core.sqlfiles import raw
from bulkscan.errors import BulkscanError, BulkscanInputError, ReconcileError
from bulkscan.jobs.shard_query.topology import (
    Answer,
    Host,
    ShardItem,
    ShardUnit,
    TableKey,
    Topology,
    build_units,
)
from bulkscan.mysqldb.connect import ConnectFactory, close_quietly, is_disconnect
from bulkscan.mysqldb.planner import plan_balanced
from bulkscan.mysqldb.results import MergedRun, ResultStore
from bulkscan.mysqldb.scanner import aggregate_queries, scan_chunk
from bulkscan.mysqldb.slots import host_slot
from bulkscan.mysqldb.source import TableSpec, parse_filters, resolve_table

log = logging.getLogger(__name__)
ConnectorFor = Callable[[str, str], ConnectFactory]
SLOT_NAME = "shard_query"  # one name per server: every conn id pointing at one server shares the cap
JOB = "shard_query"
STORED_LO, STORED_HI = -(2**63), 2**63 - 1


class HostDown(BulkscanError):
    """A shard host could not be reached; the message names the host and the table."""


@dataclass(frozen=True)
class ShardSettings:
    """What every unit needs; built once from the DAG params (or the benchmark's arguments)."""

    key: str = "id"
    processor: str = "aggregate"
    processor_kwargs: Mapping[str, Any] = field(default_factory=dict)
    filters: Sequence[Any] = ()
    chunk_rows: int = 5_000_000  # a pushed-down chunk of this size is a few seconds of server time
    max_chunks: int = 64
    group_size: int = 1
    max_per_host: int = 2
    slot_timeout_s: float = 6 * 3600
    batch_rows: int = 2_000_000
    batch_seconds: float = 0.5

    def __post_init__(self) -> None:
        for name in (
            "chunk_rows",
            "max_chunks",
            "group_size",
            "max_per_host",
            "batch_rows",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BulkscanInputError(f"{name} must be a positive integer, got {value!r}")
        processor = load_processor(self.processor, **dict(self.processor_kwargs))  # fail before queries
        if isinstance(processor, SqlFileAggregate):
            processor.refuse_filters(self.filters)

    def batch(self) -> AdaptiveBatch | None:
        """Pushed-down aggregates return one row per group, so a sub-range may span many rows: a planned
        chunk or a whole small shard (at most 1.5 x `chunk_rows` rows) is one query with no index walk;
        anything bigger is walked in sub-ranges steered toward `batch_seconds` per query. Row processors
        keep the scanner's own default."""
        if self.processor not in ("aggregate", "sql_file"):
            return None
        size = max(self.batch_rows, 2 * self.chunk_rows)
        return AdaptiveBatch(size=size, target_seconds=self.batch_seconds, maximum=max(5_000_000, size), max_growth=4.0)

    def columns(self) -> tuple[str, ...]:
        proc = load_processor(self.processor, **dict(self.processor_kwargs))
        return tuple(proc.columns or ())

    def resolve(self, conn: Any, database: str, table: str) -> TableSpec:
        return resolve_table(conn, database, table, self.key, self.columns(), self.filters)

    def spec_for(self, database: str, table: str) -> TableSpec:
        """The spec of a shard already checked at plan time (same shape as a fully resolved shard)."""
        return TableSpec(
            validate_identifier(database, "database"),
            validate_identifier(table, "shard table"),
            validate_identifier(self.key, "key column"),
            tuple(dict.fromkeys([self.key, *self.columns()])),
            parse_filters(self.filters),
        )


def _where(conn_id: str, describe: Callable[[str], str], table: str | None = None) -> str:
    host = f"host {conn_id!r} ({describe(conn_id)})"
    return f"{host} table {table!r}" if table else host


Shapes = dict[str, tuple[dict[str, str], set[str]]]  # table -> ({column: type}, columns leading an index)


def _shapes(cur: Any, database: str) -> Shapes:
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
    needed = dict.fromkeys([settings.key, *settings.columns(), *filter_cols])
    return (*tuple((c, columns.get(c)) for c in needed), settings.key in leading)


def plan_host(host: Host, connect: ConnectFactory, settings: ShardSettings) -> dict[TableKey, list[Chunk] | None]:
    """Validate and plan every table of one host. An unreachable host plans as None (whole tables).

    Missing tables or columns are input errors for the whole run; a down host is not: its tables
    are scanned whole by their own tasks, which then fail (or succeed once it is back) on their own.
    """
    try:
        conn = connect()
    except MySQLdb.OperationalError as exc:
        if not is_disconnect(exc):
            raise
        log.warning(
            "host %s is unreachable at plan time (%s); its tables run unplanned",
            host.conn_id,
            exc,
        )
        return {(host.conn_id, t): None for t in host.tables}
    try:
        cur = conn.cursor()
        cur.execute(raw("shard_query/shard_tables"), (host.database,))
        estimates = {name: int(rows or 0) for name, rows in cur.fetchall()}
        missing = [t for t in host.tables if t not in estimates]
        if missing:
            raise BulkscanInputError(
                f"host {host.conn_id!r}: {len(missing)} topology table(s) missing in {host.database}: "
                + ", ".join(missing[:10])
                + (" ..." if len(missing) > 10 else "")
            )
        shapes = _shapes(cur, host.database)
        reference: tuple[Any, ...] | None = None
        plans: dict[TableKey, list[Chunk] | None] = {}
        for table in host.tables:
            shape = _shape(shapes, table, settings)
            if shape != reference:  # the first table, or one that differs: the full information_schema check
                spec = settings.resolve(conn, host.database, table)
                dry_run(conn, spec, settings)
                reference = reference or shape
            if round(estimates[table] / settings.chunk_rows) <= 1:
                # no more than 1.5 chunks' worth: one whole-table range, no planning pass
                plans[(host.conn_id, table)] = [Chunk(0, KEY_MIN, KEY_END, estimates[table])]
            else:  # near-equal chunks from the estimate: walks the inner boundaries only
                spec = settings.spec_for(host.database, table)
                plan = plan_balanced(conn, spec, settings.chunk_rows, settings.max_chunks, estimates[table])
                plans[(host.conn_id, table)] = plan.chunks
        return plans
    finally:
        close_quietly(conn)


def dry_run(conn: Any, spec: TableSpec, settings: ShardSettings) -> None:
    """Run a query file against a shard with an empty key range, so a syntax error, an unknown column or
    a wrong result shape fails the plan (naming the file) before any scan starts."""
    processor = load_processor(settings.processor, **dict(settings.processor_kwargs))
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
    plans: dict[TableKey, list[Chunk] | None] = {}
    with ThreadPoolExecutor(max_workers=min(8, len(topology.hosts))) as pool:
        futures = [pool.submit(plan_host, h, connect_for(h.conn_id, h.database), settings) for h in topology.hosts]
        for f in futures:
            plans.update(f.result())
    return build_units(topology, plans, settings.group_size)


def _scan_item(
    unit: ShardUnit,
    item: ShardItem,
    connect: ConnectFactory,
    settings: ShardSettings,
    store: ResultStore | None,
    run_key: str,
    try_number: int,
    describe: Callable[[str], str],
    logger: logging.Logger,
    writer: ThreadPoolExecutor | None = None,
) -> tuple[Answer, Future[None] | None]:
    """Scan one item under a host slot; its result write runs inline, or on `writer` when given
    (the library path: the host's thread goes on to the next table while the write commits)."""
    where = _where(unit.conn_id, describe, item.table)
    try:
        with host_slot(
            connect,
            SLOT_NAME,
            settings.max_per_host,
            settings.slot_timeout_s,
            poll_s=0.05,
            logger=logger,
        ):
            if item.chunk is None:  # not checked at plan time (its host was down then)
                conn = connect()
                try:
                    spec = settings.resolve(conn, unit.database, item.table)
                finally:
                    close_quietly(conn)
            else:
                spec = settings.spec_for(unit.database, item.table)
            processor = load_processor(settings.processor, **dict(settings.processor_kwargs))
            # a whole table (small, or its host was down at plan time) is one range over every key
            chunk = item.chunk or Chunk(item.index, KEY_MIN, KEY_END, None)
            chunk = Chunk(item.index, chunk.lo, chunk.hi, chunk.rows)
            ctx = ChunkContext(
                run_key,
                chunk,
                try_number,
                {
                    "conn_id": unit.conn_id,
                    "database": unit.database,
                    "table": item.table,
                },
            )
            stats = scan_chunk(
                connect,
                spec,
                chunk,
                processor,
                ctx,
                batch=settings.batch(),
                logger=logger,
                max_reconnects=3,
            )
            rows, seconds, summary = stats.rows, stats.seconds, stats.summary
            if chunk.lo < STORED_LO or chunk.hi > STORED_HI:  # stored key bounds must fit BIGINT
                chunk = Chunk(
                    item.index,
                    max(chunk.lo, STORED_LO),
                    min(chunk.hi, STORED_HI),
                    chunk.rows,
                )
    except MySQLdb.Error as exc:
        if is_disconnect(exc):
            raise HostDown(f"{where}: host unreachable: {exc}") from exc
        raise BulkscanError(f"{where}: {exc}") from exc
    answer = Answer(unit.conn_id, item.table, item.index, item.parts, rows)
    if store is None:
        return answer, None
    groups = processor.groups if isinstance(processor, AggregateByKey) else None

    def write() -> None:
        # ResultStore retries a deadlocked write itself (READ COMMITTED, bounded attempts).
        store.replace_chunk(
            run_key,
            chunk,
            job=JOB,
            source=f"{unit.conn_id} / {unit.database}.{item.table}",
            rows=rows,
            seconds=seconds,
            try_number=try_number,
            groups=groups,
            summary=json.dumps(summary, default=str),
        )

    logger.info("%s / %s: %s rows in %.2fs", unit.conn_id, item.table, f"{rows:,}", seconds)
    if writer is not None:
        return answer, writer.submit(write)
    write()
    return answer, None


def run_unit(
    unit: ShardUnit,
    connect: ConnectFactory,
    settings: ShardSettings,
    store: ResultStore | None,
    run_key: str,
    try_number: int = 1,
    describe: Callable[[str], str] = lambda c: c,
    logger: logging.Logger = log,
) -> list[Answer]:
    """Scan a unit's items, up to `max_per_host` at once (each holds a server-side slot while it runs).

    Every item is attempted even if another fails, so one bad table does not hide the state of the
    rest; the first error is raised afterwards, naming host and table.
    """
    workers = max(1, min(len(unit.items), settings.max_per_host))
    with ThreadPoolExecutor(max_workers=1) as writer, ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(_scan_item, unit, item, connect, settings, store, run_key, try_number, describe, logger, writer)
            for item in sorted(unit.items, key=_biggest_first)
        ]
        pool.shutdown()
        answers, errors = _collect(futures)
    if errors:
        if len(errors) > 1:
            logger.error("%d of %d tables failed on %s", len(errors), len(unit.items), unit.conn_id)
        raise errors[0]
    return answers


def _biggest_first(item: ShardItem) -> int:
    """Sort key: largest planned rows first, so no big table is left running alone while the cap sits
    idle. An item not planned (its host was down at plan time) has no estimate and goes first too."""
    return -(item.chunk.rows or 0) if item.chunk is not None else -(2**62)


def _collect(futures: Sequence[Future[tuple[Answer, Future[None] | None]]]) -> tuple[list[Answer], list[BaseException]]:
    """Answers of finished scans whose result write committed; the errors of the others."""
    answers: list[Answer] = []
    errors: list[BaseException] = []
    for f in futures:
        exc = f.exception()
        if exc is None:
            answer, write = f.result()
            exc = write.exception() if write is not None else None
            if exc is None:
                answers.append(answer)
        if exc is not None:
            errors.append(exc)
    return answers, errors


@dataclass
class FanoutResult:
    answers: list[Answer]
    failures: dict[str, str]  # unit label -> error message
    seconds: float


def run_units(
    units: Sequence[ShardUnit],
    connect_for: ConnectorFor,
    settings: ShardSettings,
    store: ResultStore | None,
    run_key: str,
) -> FanoutResult:
    """The library path: per host, a pool of `max_per_host` threads works through that host's items.

    The server-side slots still enforce the cap across processes; keeping each process's own
    threads at the cap means nobody polls for a slot, so a freed slot is reused at once.
    """
    started = time.monotonic()
    factories = {(u.conn_id, u.database): connect_for(u.conn_id, u.database) for u in units}
    pools = {c: ThreadPoolExecutor(max_workers=settings.max_per_host) for c in {u.conn_id for u in units}}
    writer = ThreadPoolExecutor(max_workers=2)  # result writes commit while the hosts scan on
    answers: list[Answer] = []
    failures: dict[str, str] = {}
    # Biggest items first on each host, so no big shard is left to run alone at the end.
    pairs = sorted(((u, i) for u in units for i in u.items), key=lambda p: _biggest_first(p[1]))
    try:
        futures_of: dict[int, list[Future[tuple[Answer, Future[None] | None]]]] = {id(u): [] for u in units}
        for unit, item in pairs:
            futures_of[id(unit)].append(
                pools[unit.conn_id].submit(
                    _scan_item,
                    unit,
                    item,
                    factories[(unit.conn_id, unit.database)],
                    settings,
                    store,
                    run_key,
                    1,
                    lambda c: c,
                    log,
                    writer,
                )
            )
        submitted = [(unit, futures_of[id(unit)]) for unit in units]
        for unit, futures in submitted:
            unit_answers, errors = _collect(futures)
            if errors:
                failures[unit.label] = str(errors[0])
                if not isinstance(errors[0], BulkscanError):
                    raise errors[0]
            else:
                answers.extend(unit_answers)
    finally:
        for pool in pools.values():
            pool.shutdown()
        writer.shutdown()
    return FanoutResult(answers, failures, time.monotonic() - started)


def merge(store: ResultStore, run_key: str, source: str, answers: Sequence[Answer]) -> MergedRun:
    """Fold the per-shard partial sums into one result (replacing an earlier merge of the run)."""
    return store.merge(
        run_key,
        job=JOB,
        source=source,
        chunks=len(answers),
        rows=sum(a.rows for a in answers),
    )


def check_store(store: ResultStore, run_key: str, answers: Sequence[Answer]) -> None:
    """The result tables must hold exactly the answered chunks with the same row counts."""
    stored = {int(c["chunk_index"]): int(c["rows_scanned"]) for c in store.chunks(run_key)}
    answered = {a.index: a.rows for a in answers}
    if stored != answered:
        diff = sorted(set(stored.items()) ^ set(answered.items()))[:10]
        raise ReconcileError(f"stored chunks of {run_key} differ from the task answers: {diff}")
