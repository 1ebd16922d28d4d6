"""Another session's LOCK TABLES ... WRITE, held until the queries waiting on it are gone: a query that
waits on the server, which no signal interrupts (the hung-chunk and hung-shard-task tests)."""

from __future__ import annotations

import threading
import time
from typing import Any

WAITING = "Waiting for table metadata lock"  # a query behind another session's LOCK TABLES ... WRITE


def hold_until_waiters_gone(holder: Any, watch: Any, table: str, locked: threading.Event, seconds: float = 60) -> str:
    """LOCK TABLES `table` WRITE on the `holder` connection and set `locked`; then hold it until queries
    waiting on it have come and all gone (watched on the `watch` connection), or for at most `seconds`.
    Returns what ended the hold: "waiter gone" (the waiting query was ended while the lock was held) or
    "gave up"."""
    holder.cursor().execute(f"LOCK TABLES {table} WRITE")
    locked.set()
    seen, cur, outcome = False, watch.cursor(), "gave up"
    try:
        for _ in range(int(seconds * 10)):
            cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE = %s", (WAITING,))
            waiting = cur.fetchone()[0] > 0
            if seen and not waiting:
                outcome = "waiter gone"
                break
            seen = seen or waiting
            time.sleep(0.1)
    finally:
        holder.cursor().execute("UNLOCK TABLES")
    return outcome
