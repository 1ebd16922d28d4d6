"""User processors for the DAG tests: fault injection lives here, never in bulkscan itself."""

from __future__ import annotations

from typing import Any

import MySQLdb

from bulkscan.core.processors import AggregateByKey, ChunkContext


class FaultyAggregate(AggregateByKey):
    """The aggregate processor, failing mid-chunk while a fault row exists for its chunk.

    `mode="once"` fails only the first attempt; `mode="table"` fails while `faults` holds the chunk.
    Every attempt is recorded in `attempts`, so tests can see which chunks ran again.
    """

    def __init__(self, control_db: str, group: str, value: str, mode: str = "once", port: int = 3306) -> None:
        super().__init__(group, value)
        self.control_db, self.mode, self.port = control_db, mode, port

    def _db(self) -> Any:
        return MySQLdb.connect(host="127.0.0.1", port=self.port, user="root", database=self.control_db, autocommit=True)

    def open(self, ctx: ChunkContext) -> None:
        super().open(ctx)
        conn = self._db()
        cur = conn.cursor()
        cur.execute(
            "INSERT INTO attempts (run_key, chunk_index, try_number) VALUES (%s, %s, %s)",
            (ctx.run_key, ctx.chunk.index, ctx.try_number),
        )
        cur.execute("SELECT COUNT(*) FROM faults WHERE chunk_index = %s", (ctx.chunk.index,))
        self.fail = cur.fetchone()[0] > 0 and (self.mode != "once" or ctx.try_number == 1)
        conn.close()

    def add_groups(self, rows: Any) -> None:
        super().add_groups(rows)
        if self.fail:
            raise RuntimeError(f"injected fault in chunk {self.ctx.chunk.index} (try {self.ctx.try_number})")


def faulty_aggregate(**kwargs: Any) -> FaultyAggregate:
    return FaultyAggregate(**kwargs)
