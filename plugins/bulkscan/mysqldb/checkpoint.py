"""Per-batch checkpoints of one chunk, so a new try resumes where the last one stopped.

After a finished batch the scanner commits, in ONE transaction on bulkscan's results schema:
the batches' effects (the built-in aggregate's partial sums added to `bulkscan_partial`, a
processor's own writes and outbox messages through `BatchTx`) and the position after which
nothing is left to do. A per-row processor commits after every batch; an aggregate every
`ScanOptions.checkpoint_every_s` and at the chunk's end (its sums wait in memory in between). A
worker killed mid-chunk loses at most what it read since the last commit: the next try
reads the checkpoint, tells the processor that its first batch may be a replay, and goes on from
there. Effects written through the transaction are exactly once, since they commit with the
position or not at all.

A checkpoint belongs to one chunk's bounds: a re-planned chunk (other bounds) or a chunk that
finished and is run again starts fresh, its earlier partial sums dropped, as before checkpoints.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bulkscan.core.chunks import StoredChunk
from bulkscan.core.dbapi import Connection, Cursor
from bulkscan.core.processors import AggregateByKey, Processor
from bulkscan.core.sqlfiles import Fragment, statements
from bulkscan.mysqldb.connect import begin, close_quietly, is_disconnect
from bulkscan.mysqldb.results import INSERT_BATCH, ResultStore, group_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resume:
    """Where an unfinished earlier try stopped: `position` is {"after": key} (rows) or {"from": key}
    (pushed-down sub-ranges) with the next batch's "size", or {"end": True}; `rows` and `batches` are
    what it had done."""

    position: dict[str, Any]
    rows: int
    batches: int


class CheckpointTx:
    """A `BatchTx`: the checkpoint transaction's cursor and the outbox, for a processor's `commit_batch`."""

    def __init__(self, cur: Cursor, store: ResultStore, run_key: str, chunk_index: int, try_number: int) -> None:
        self.cursor = cur
        self._store, self._run_key, self._chunk, self._try = store, run_key, chunk_index, try_number

    def outbox(self, messages: Iterable[tuple[str, str]]) -> None:
        """(row key, message) pairs into bulkscan_outbox, once per row key of the chunk."""
        sql = self._store.sql("outbox_insert")
        rows = [(self._run_key, self._chunk, str(k), m, self._try) for k, m in messages]
        for i in range(0, len(rows), INSERT_BATCH):
            self.cursor.executemany(sql, rows[i : i + INSERT_BATCH])


class ChunkCheckpoint:
    """The checkpoints of one try of one chunk, on a connection of its own (kept for the chunk)."""

    def __init__(self, store: ResultStore, run_key: str, chunk: StoredChunk, try_number: int) -> None:
        self.store, self.run_key, self.chunk, self.try_number = store, run_key, chunk, try_number
        self.bounds = json.dumps(list(chunk.stored_bounds()))
        self.conn: Connection | None = None

    def _cursor(self) -> Cursor:
        if self.conn is None:
            self.conn = self.store.connect()
        return self.conn.cursor()

    def start(self) -> Resume | None:
        """The unfinished checkpoint of this chunk's bounds, or None after clearing what is stale."""
        cur = self._cursor()
        cur.execute(self.store.sql("checkpoint_get", lock=Fragment("")), (self.run_key, self.chunk.index))
        row = cur.fetchone()
        if row is not None and not row[4] and row[0] == self.bounds:
            resume = Resume(json.loads(row[1]), int(row[2]), int(row[3]))
            log.info(
                "chunk %d resumes from its checkpoint: %s rows in %d batches done, %s",
                self.chunk.index,
                f"{resume.rows:,}",
                resume.batches,
                row[1],
            )
            return resume
        for stmt in statements("results/checkpoint_clear", schema=self.store.q):
            cur.execute(stmt, (self.run_key, self.chunk.index))
        return None

    def commit(self, position: dict[str, Any], rows: int, batches: int, processor: Processor) -> None:
        """The batch's effects and the new position, in one transaction (retried once on a lost connection)."""
        pending = processor.take_pending() if isinstance(processor, AggregateByKey) else {}
        for attempt in (1, 2):
            try:
                self._commit(position, rows, batches, processor, pending)
                return
            except Exception as exc:
                if attempt == 2 or not is_disconnect(exc):
                    raise
                close_quietly(self.conn)
                self.conn = None

    def _commit(
        self, position: dict[str, Any], rows: int, batches: int, processor: Processor, pending: dict[Any, list[Any]]
    ) -> None:
        if self.conn is None:
            self.conn = self.store.connect()
        key = (self.run_key, self.chunk.index)
        with begin(self.conn, "READ COMMITTED") as cur:
            cur.execute(self.store.sql("checkpoint_get", lock=Fragment("FOR UPDATE")), key)
            row = cur.fetchone()
            if row is not None and row[0] == self.bounds and int(row[3]) >= batches and not row[4]:
                return  # this very commit already landed (its acknowledgement was lost with the connection)
            if pending:
                sums = [(*key, group_key(g), s, n) for g, (s, n) in pending.items()]
                for i in range(0, len(sums), INSERT_BATCH):
                    cur.executemany(self.store.sql("partial_add"), sums[i : i + INSERT_BATCH])
            processor.commit_batch(CheckpointTx(cur, self.store, self.run_key, self.chunk.index, self.try_number))
            cur.execute(
                self.store.sql("checkpoint_put"),
                (*key, self.bounds, json.dumps(position), rows, batches, self.try_number),
            )

    def close(self) -> None:
        close_quietly(self.conn)
        self.conn = None
