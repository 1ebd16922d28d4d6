"""A test processor that makes each shard scan visible on its host for a while.

open() runs `SELECT SLEEP(..) /* bs_shard_probe */` on the scanned host (inside the scan, so inside
the host slot) and bumps a counter row there; the test watches information_schema.PROCESSLIST and
the counter from outside to see how many scans really run at once per host.
"""

from __future__ import annotations

from typing import Any

import MySQLdb

from bulkscan.core.processors import ChunkContext, CountRows

PORTS: dict[str, int] = {}  # conn id -> port, set by the test
MARK = "bs_shard_probe"


class Probe(CountRows):
    def __init__(self, sleep: float = 0.15) -> None:
        super().__init__()
        self.sleep = float(sleep)

    def _conn(self) -> Any:
        extra = self.ctx.extra
        return MySQLdb.connect(
            host="127.0.0.1",
            port=PORTS[extra["conn_id"]],
            user="root",
            database=extra["database"],
            autocommit=True,
        )

    def open(self, ctx: ChunkContext) -> None:
        super().open(ctx)
        conn = self._conn()
        try:
            cur = conn.cursor()
            cur.execute("UPDATE probe SET active = active + 1, peak = GREATEST(peak, active)")
            cur.execute(f"SELECT SLEEP(%s) /* {MARK} */", (self.sleep,))
            cur.execute("UPDATE probe SET active = active - 1")
        finally:
            conn.close()


def factory(**kwargs: Any) -> Probe:
    return Probe(**kwargs)
