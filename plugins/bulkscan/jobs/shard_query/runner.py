"""Run a shard fan-out without Airflow: items under a per-host cap, results stored, answers merged.

The DAG's tasks call `run_unit` one unit at a time; the benchmark and the concurrency test call
`run_units` to run every unit from a thread pool. Planning is in `hostplan`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import MySQLdb

from bulkscan.core.chunks import KEY_END, KEY_MIN, Chunk
from bulkscan.core.dbapi import ConnectFactory
from bulkscan.core.processors import AggregateByKey, ChunkContext
from bulkscan.errors import BulkscanError, ReconcileError
from bulkscan.jobs.shard_query.hostplan import ConnectorFor, resolve_shard
from bulkscan.jobs.shard_query.packing import Answer, ShardItem, ShardUnit
from bulkscan.jobs.shard_query.settings import JOB, ShardSettings
from bulkscan.mysqldb.connect import connection, is_disconnect
from bulkscan.mysqldb.results import ChunkOutcome, MergedRun, ResultStore
from bulkscan.mysqldb.scanner import ScanOptions, scan_chunk
from bulkscan.mysqldb.slots import host_slot

log = logging.getLogger(__name__)
SLOT_NAME = "shard_query"  # one name per server: every conn id pointing at one server shares the cap
Scanned = tuple[Answer, "Future[None] | None"]


class HostDown(BulkscanError):
    """A shard host could not be reached; the message names the host and the table."""


def _same(conn_id: str) -> str:
    return conn_id


@dataclass(frozen=True)
class ShardRun:
    """One run's (or one task's) part of the fan-out: its settings, result store and identity."""

    settings: ShardSettings
    store: ResultStore | None
    run_key: str
    try_number: int = 1
    describe: Callable[[str], str] = field(default=_same)  # conn id -> "host:port", for error messages
    logger: logging.Logger = log
    # seconds after which a scan ends a statement still blocked on the server, asked as each item starts
    # (the task's execution_timeout left: bulkscan.glue.time_limit.kill_after); None: never
    statement_deadline: Callable[[], float | None] = field(default=lambda: None)

    def where(self, conn_id: str, table: str) -> str:
        return f"host {conn_id!r} ({self.describe(conn_id)}) table {table!r}"


def _scan_item(
    run: ShardRun,
    unit: ShardUnit,
    item: ShardItem,
    connect: ConnectFactory,
    writer: ThreadPoolExecutor | None = None,
    abandon: threading.Event | None = None,
) -> Scanned:
    """Scan one item under a host slot; its result write runs inline, or on `writer` when given
    (the library path: the host's thread goes on to the next table while the write commits). Once
    `abandon` is set, the item's statement is ended on the server and no new item starts."""
    if abandon is not None and abandon.is_set():
        raise BulkscanError(f"{run.where(unit.conn_id, item.table)}: not started, its task ran out of time")
    settings = run.settings
    try:
        with host_slot(
            connect, SLOT_NAME, settings.max_queries_per_host, settings.slot_timeout_s, poll_s=0.05, logger=run.logger
        ):
            slot_from = time.time()  # the host slot's holding time, for the run report's in-flight chart
            if item.chunk is None:  # not checked at plan time (its host was down then)
                with connection(connect) as conn:
                    spec = resolve_shard(conn, unit.database, item.table, settings)
            else:
                spec = settings.spec_for(unit.database, item.table)
            processor = settings.make_processor()
            # a whole table (small, or its host was down at plan time) is one range over every key
            planned = item.chunk or Chunk(item.index, KEY_MIN, KEY_END, None)
            chunk = Chunk(item.index, planned.lo, planned.hi, planned.rows)
            extra = {"conn_id": unit.conn_id, "database": unit.database, "table": item.table}
            ctx = ChunkContext(run.run_key, chunk, run.try_number, extra)
            deadline = run.statement_deadline()
            options = ScanOptions(logger=run.logger, max_reconnects=3, statement_deadline_s=deadline, abandon=abandon)
            stats = scan_chunk(connect, spec, processor, ctx, batch=settings.batch(), options=options)
            slot_to = time.time()
    except MySQLdb.Error as exc:
        if is_disconnect(exc):
            raise HostDown(f"{run.where(unit.conn_id, item.table)}: host unreachable: {exc}") from exc
        raise BulkscanError(f"{run.where(unit.conn_id, item.table)}: {exc}") from exc
    answer = Answer(unit.conn_id, item.table, item.index, item.parts, stats.rows)
    run.logger.info("%s / %s: %s rows in %.2fs", unit.conn_id, item.table, f"{stats.rows:,}", stats.seconds)
    store = run.store
    if store is None:
        return answer, None
    outcome = ChunkOutcome(
        JOB,
        f"{unit.conn_id} / {unit.database}.{item.table}",
        stats.rows,
        stats.seconds,
        run.try_number,
        groups=processor.groups if isinstance(processor, AggregateByKey) else None,
        summary=json.dumps({**stats.summary, "slot": [slot_from, slot_to]}, default=str),
    )

    def write() -> None:
        # ResultStore retries a deadlocked write itself (READ COMMITTED, bounded attempts).
        store.replace_chunk(run.run_key, chunk, outcome)

    if writer is not None:
        return answer, writer.submit(write)
    write()
    return answer, None


ABANDON_WAIT_S = 10.0  # how long an abandoned unit waits for its items' statements to end on the server


def run_unit(unit: ShardUnit, connect: ConnectFactory, run: ShardRun) -> list[Answer]:
    """Scan a unit's items, up to `max_queries_per_host` at once (each holds a server-side slot while it runs).

    Every item is attempted even if another fails, so one bad table does not hide the state of the
    rest; the first error is raised afterwards, naming host and table.
    """
    workers = max(1, min(len(unit.items), run.settings.max_queries_per_host))
    abandon = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as writer, ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(_scan_item, run, unit, item, connect, writer, abandon)
            for item in sorted(unit.items, key=_biggest_first)
        ]
        try:
            wait(futures)
        except BaseException:
            # The task's time limit (a signal, raised in this thread) or a kill while the items run in
            # theirs: end their statements on the server now, and let them go, before the task ends.
            abandon.set()
            wait(futures, timeout=ABANDON_WAIT_S)
            raise
        answers, errors = _collect(futures)
    if errors:
        if len(errors) > 1:
            run.logger.error("%d of %d tables failed on %s", len(errors), len(unit.items), unit.conn_id)
        raise errors[0]
    return answers


def _biggest_first(item: ShardItem) -> int:
    """Sort key: largest planned rows first, so no big table is left running alone while the cap sits
    idle. An item not planned (its host was down at plan time) has no estimate and goes first too."""
    return -(item.chunk.rows or 0) if item.chunk is not None else -(2**62)


def _collect(futures: Sequence[Future[Scanned]]) -> tuple[list[Answer], list[BaseException]]:
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
    """The library path: per host, a pool of `max_queries_per_host` threads works through that host's items.

    The server-side slots still enforce the cap across processes; keeping each process's own
    threads at the cap means nobody polls for a slot, so a freed slot is reused at once.
    """
    started = time.monotonic()
    run = ShardRun(settings, store, run_key)
    factories = {(u.conn_id, u.database): connect_for(u.conn_id, u.database) for u in units}
    pools = {c: ThreadPoolExecutor(max_workers=settings.max_queries_per_host) for c in {u.conn_id for u in units}}
    writer = ThreadPoolExecutor(max_workers=2)  # result writes commit while the hosts scan on
    answers: list[Answer] = []
    failures: dict[str, str] = {}
    # Biggest items first on each host, so no big shard is left to run alone at the end.
    pairs = sorted(((u, i) for u in units for i in u.items), key=lambda p: _biggest_first(p[1]))
    try:
        futures_of: dict[int, list[Future[Scanned]]] = {id(u): [] for u in units}
        for unit, item in pairs:
            connect = factories[(unit.conn_id, unit.database)]
            futures_of[id(unit)].append(pools[unit.conn_id].submit(_scan_item, run, unit, item, connect, writer))
        for unit in units:
            unit_answers, errors = _collect(futures_of[id(unit)])
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
