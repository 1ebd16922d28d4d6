"""bulkscan's own result tables, keyed by run and chunk: `ResultStore` alone reads and writes them.

A chunk's write is one transaction that first deletes what any earlier attempt of the same run and
chunk wrote, so a retried or re-run chunk replaces its output and nothing is counted twice. The
statements are include/sql/results/*.sql; only the validated, quoted schema name is substituted.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bulkscan.core.chunks import StoredChunk
from bulkscan.core.dbapi import ConnectFactory, Cursor
from bulkscan.core.identifiers import quote_identifier
from bulkscan.core.processors import GroupSums
from bulkscan.core.sqlfiles import Fragment, raw, render, statements
from bulkscan.mysqldb.connect import cursor, run_transaction, scalar
from bulkscan.mysqldb.resilient import query_deadline

NULL_GROUP = "\\N"  # how a NULL group value is stored (the key column is NOT NULL)
INSERT_BATCH = 5_000


def group_key(value: Any) -> str:
    if value is None:
        return NULL_GROUP
    if isinstance(value, bytes):
        value = value.decode()
    return str(value)


@dataclass(frozen=True)
class MergedRun:
    run_key: str
    chunks: int
    rows: int
    groups: int
    value_sum: Decimal | None


@dataclass(frozen=True)
class ChunkOutcome:
    """What one chunk (or producer) of a run did, as stored in bulkscan_chunk / bulkscan_partial.

    `from_query` = (SELECT group, sum, count ..., params) has the server compute the partial sums
    straight into the table (INSERT ... SELECT: nothing crosses the wire); `rows` and the group count
    are then read back from what was inserted.
    """

    job: str
    source: str
    rows: int
    seconds: float
    try_number: int
    groups: GroupSums | None = None
    summary: str | None = None
    from_query: tuple[str, tuple[Any, ...]] | None = None
    checkpointed: bool = False  # the partial sums are already in, batch by batch (mysqldb.checkpoint)


class ResultStore:
    def __init__(self, connect: ConnectFactory, schema: str = "bulkscan"):
        self.connect = connect
        self.schema = schema
        self.q = Fragment(quote_identifier(schema, "results schema"))

    def sql(self, name: str, **parts: Fragment) -> str:
        return render(f"results/{name}", schema=self.q, **parts)

    def ensure(self) -> None:
        """Create the schema, or migrate it to this release's revision with its data kept (Alembic)."""
        # Imported here: Alembic and SQLAlchemy cost a chunk worker about a second to import, and only a
        # plan (or the migrate command) needs them.
        from bulkscan.mysqldb import migrations

        migrations.upgrade(self.connect, self.schema)

    def replace_chunk(
        self, run_key: str, chunk: StoredChunk, outcome: ChunkOutcome, statement_deadline_s: float | None = None
    ) -> tuple[int, int]:
        """Write one chunk's outcome (and partial sums) in one transaction, replacing earlier attempts.

        Returns (rows, groups) as stored. A `from_query` outcome is stored with the seconds its INSERT ...
        SELECT took (what the next plan derives time limits from). A statement of the transaction still
        running after `statement_deadline_s` is ended on the server (resilient.query_deadline): the
        transaction then rolls back whole, and the chunk's retry writes it again.
        """

        def store(cur: Cursor) -> tuple[int, int]:
            rows, n_groups, seconds = outcome.rows, len(outcome.groups or ()), outcome.seconds
            if outcome.checkpointed:
                cur.execute(self.sql("partial_totals"), (run_key, chunk.index))
                n_groups = int((cur.fetchone() or (0, 0))[0])
                cur.execute(self.sql("checkpoint_done"), (run_key, chunk.index))
            else:
                cur.execute(self.sql("partial_delete"), (run_key, chunk.index))
            if outcome.groups:
                sums = ((run_key, chunk.index, group_key(g), s, n) for g, (s, n) in outcome.groups.items())
                for batch in _batches(sums, INSERT_BATCH):
                    cur.executemany(self.sql("partial_insert"), batch)
            if outcome.from_query is not None:
                query, params = outcome.from_query
                started = time.monotonic()
                cur.execute(self.sql("partial_insert_select", query=Fragment(query)), (run_key, chunk.index, *params))
                seconds = seconds or time.monotonic() - started
                cur.execute(self.sql("partial_totals"), (run_key, chunk.index))
                got_groups, got_rows = cur.fetchone() or (0, 0)
                n_groups, rows = int(got_groups), int(got_rows)
            cur.execute(
                self.sql("chunk_upsert"),
                (
                    run_key,
                    chunk.index,
                    outcome.job,
                    outcome.source,
                    *chunk.stored_bounds(),
                    chunk.label,
                    chunk.rows,
                    rows,
                    n_groups,
                    outcome.try_number,
                    seconds,
                    outcome.summary,
                ),
            )
            return rows, n_groups

        def write(cur: Cursor) -> tuple[int, int]:
            if not statement_deadline_s:
                return store(cur)
            # every statement of the transaction may wait on the server (a lock on the partial store)
            server_id = int(scalar(cur, raw("common/connection_id")))
            what = f"chunk {chunk.index} ({chunk.label})"
            with query_deadline(self.connect, lambda: server_id, statement_deadline_s, what):
                return store(cur)

        return run_transaction(self.connect, write)

    def outbox(self, run_key: str) -> list[tuple[int, str, str, int]]:
        """(chunk, row key, message, try) of a run's outbox messages, in order (for a relay, and tests)."""
        with cursor(self.connect) as cur:
            cur.execute(self.sql("outbox_rows"), (run_key,))
            return [(int(c), str(k), str(m), int(t)) for c, k, m, t in cur.fetchall()]

    def chunks(self, run_key: str) -> list[dict[str, Any]]:
        with cursor(self.connect) as cur:
            cur.execute(self.sql("chunks"), (run_key,))
            names = [d[0] for d in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def slowest_rate(self, job: str, source: str, min_rows: int = 1_000) -> float | None:
        """Seconds per row of the slowest chunk (of at least `min_rows` rows) in the source's last merged
        run, or None before its first one."""
        with cursor(self.connect) as cur:
            cur.execute(self.sql("slowest_rate"), (job, source, min_rows))
            row = cur.fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def run_slowest_rate(self, run_key: str, min_rows: int = 1_000) -> float | None:
        """Seconds per row of the slowest chunk (of at least `min_rows` rows) of one run, or None."""
        with cursor(self.connect) as cur:
            rate = scalar(cur, self.sql("run_slowest_rate"), (run_key, min_rows))
        return float(rate) if rate is not None else None

    def chunk_count(self, run_key: str, cur: Cursor | None = None) -> int:
        """How many chunks (producers) of the run have written, on `cur` or a connection of its own."""
        if cur is None:
            with cursor(self.connect) as own:
                return self.chunk_count(run_key, own)
        cur.execute(self.sql("chunk_count"), (run_key,))
        row = cur.fetchone()
        return int(row[0]) if row else 0

    def merge(self, run_key: str, *, job: str, source: str, chunks: int, rows: int) -> MergedRun:
        """Fold the partial sums of every chunk of the run into bulkscan_result (replacing a previous merge)."""

        def write(cur: Cursor) -> MergedRun:
            cur.execute(self.sql("result_delete"), (run_key,))
            cur.execute(self.sql("result_merge"), (run_key, run_key))
            cur.execute(self.sql("result_totals"), (run_key,))
            groups, value_sum = cur.fetchone() or (0, None)
            cur.execute(self.sql("run_replace"), (run_key, job, source, chunks, rows, groups, value_sum))
            return MergedRun(run_key, chunks, rows, int(groups), value_sum)

        return run_transaction(self.connect, write)

    def result(self, run_key: str) -> dict[str, tuple[Decimal, int]]:
        """The merged sums of a run: group_key -> (sum, rows)."""
        with cursor(self.connect) as cur:
            cur.execute(self.sql("result"), (run_key,))
            return {g: (s, int(n)) for g, s, n in cur.fetchall()}

    def top(self, run_key: str, limit: int = 5) -> list[tuple[str, Decimal, int]]:
        with cursor(self.connect) as cur:
            cur.execute(self.sql("result_top"), (run_key, limit))
            return [(g, s, int(n)) for g, s, n in cur.fetchall()]

    def forget(self, run_key: str) -> None:
        """Drop a run's partial sums once another store has applied them; its chunk rows stay, as every
        run's do (the record of what was scanned, and the next plan's rates)."""
        with cursor(self.connect) as cur:
            for stmt in statements("results/forget_run", schema=self.q):
                cur.execute(stmt, (run_key,))

    def copy_partials(self, cur: Cursor, run_key: str, template: str) -> None:
        """Run `template` (an INSERT ... SELECT ... FROM {partials} WHERE run_key = %s) on `cur`, inside
        the caller's transaction: another store reads a run's partial sums without naming this table."""
        cur.execute(render(template, partials=Fragment(f"{self.q}.bulkscan_partial")), (run_key,))


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
