"""A test processor that records every attempt (with the worker that ran it) and stalls one chunk's
first attempt, so a test can SIGKILL the worker while that chunk is in the middle of its scan."""

from __future__ import annotations

import os
import time
from typing import Any

import MySQLdb

from bulkscan.core.processors import AggregateByKey, ChunkContext


class StallingAggregate(AggregateByKey):
    def __init__(
        self, control_db: str, group: str, value: str, stall_chunk: int, seconds: float, port: int = 3306
    ) -> None:
        super().__init__(group, value)
        self.control_db, self.stall_chunk, self.seconds, self.port = control_db, stall_chunk, seconds, port
        self.stalled = False

    def open(self, ctx: ChunkContext) -> None:
        super().open(ctx)
        conn = MySQLdb.connect(host="127.0.0.1", port=self.port, user="root", database=self.control_db)
        try:
            conn.cursor().execute(
                "INSERT INTO attempts (run_key, chunk_index, try_number, worker) VALUES (%s, %s, %s, %s)",
                (
                    ctx.run_key,
                    ctx.chunk.index,
                    ctx.try_number,
                    os.environ.get("BULKSCAN_WORKER_HOSTNAME", ""),
                ),
            )
            conn.commit()
        finally:
            conn.close()

    def add_groups(self, rows: Any) -> None:
        super().add_groups(rows)
        if self.ctx.chunk.index == self.stall_chunk and self.ctx.try_number == 1 and not self.stalled:
            self.stalled = True
            time.sleep(self.seconds)  # mid-chunk: one batch merged, the rest not yet


def stalling_aggregate(**kwargs: Any) -> StallingAggregate:
    return StallingAggregate(**kwargs)
