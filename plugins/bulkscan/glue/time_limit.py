"""A chunk's own time limit, inside its task's `execution_timeout`.

Airflow's `execution_timeout` is fixed when the DAG file is parsed, so it cannot follow a plan. A chunk
also gets a limit derived from its planned rows (bulkscan.core.chunks.chunk_time_limit), enforced here
the way Airflow enforces its own: SIGALRM in the task's main thread, raising `AirflowTaskTimeout`, which
Airflow handles as a timeout (the task fails and is retried; the chunk's checkpoint is kept). The
task's own timer is stopped while this one runs and set again, less the time spent, when it ends.

A signal only raises once the call it interrupted returns, and a MySQL statement blocked on the server
does not: `statement_deadline` (the scan's KILL QUERY, bulkscan.mysqldb.resilient) ends such a statement
`STATEMENT_GRACE_S` after whichever limit comes first (`kill_after`), and the pending alarm then raises.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

from bulkscan.core.chunks import TIME_LIMIT_FACTOR, chunk_time_limit
from bulkscan.glue.defaults import chunk_time_limit_floor_s
from bulkscan.redisnodes.connect import RedisSettings
from bulkscan.redisnodes.topology import NodePlan

STATEMENT_GRACE_S = 2.0  # the alarm first, where it can act; then the server is asked to end the statement


def planned_time_limits(
    planned_rows: Sequence[int | None], slowest_s_per_row: float | None, bound_s: int, what: str, log: logging.Logger
) -> list[int]:
    """The plan's time limit for each mapped piece (`what`: "chunk", "task"), from its planned rows and the
    last run's slowest rate (bulkscan.core.chunks.chunk_time_limit, the floor read here so a test can lower
    it), logged once for the plan."""
    floor = chunk_time_limit_floor_s()
    limits = [chunk_time_limit(rows, slowest_s_per_row, bound_s, floor) for rows in planned_rows]
    if limits:
        log.info(
            "%s time limits %s-%s s: %s, at least %d s, at most %d s (the form's limit)",
            what,
            f"{min(limits):,}",
            f"{max(limits):,}",
            f"{TIME_LIMIT_FACTOR}x the planned rows at the last run's slowest {slowest_s_per_row * 1e6:.2f} us per row"
            if slowest_s_per_row
            else "no earlier run to derive them from",
            floor,
            bound_s,
        )
    return limits


def node_time_limits(
    nodes: list[NodePlan], where: RedisSettings, slowest_s_per_key: float | None, bound_s: int, log: logging.Logger
) -> list[NodePlan]:
    """Each Redis node task's own time limit, from the keys its primary holds (`keys`, DBSIZE: an upper
    bound of what the pattern matches) and the connection's last run (`slowest_s_per_key`, from
    bulkscan.redisnodes.audit.read_rate), set in its payload as `time_limit_s`."""
    for node in nodes:
        node["keys"] = where.keys_on(node["host"], int(node["port"]))
    keys: list[int | None] = [n["keys"] for n in nodes]
    for node, limit in zip(nodes, planned_time_limits(keys, slowest_s_per_key, bound_s, "node task", log), strict=True):
        node["time_limit_s"] = limit
    return nodes


def own_time_limit(payload: Mapping[str, Any], bound_s: int) -> int:
    """A mapped piece's time limit as its plan set it (`time_limit_s`), else the form's bound (a payload
    planned before there were limits)."""
    return int(payload.get("time_limit_s") or bound_s)


def kill_after(seconds: float | None = None) -> float | None:
    """When a scan should end a statement still blocked on the server (`ScanOptions.statement_deadline_s`):
    `STATEMENT_GRACE_S` after its own limit `seconds` or the task's timer (execution_timeout), whichever
    ends first; None when neither is set (the library path, no Airflow)."""
    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    limits = [x for x in (seconds, outer_left) if x]
    return min(limits) + STATEMENT_GRACE_S if limits else None


@contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Raise `AirflowTaskTimeout` in the block after `seconds` (or let the task's own timer end it,
    when that comes first, or off the main thread, where no alarm can be set)."""
    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    if (
        seconds <= 0
        or (outer_left and outer_left <= seconds)
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def expired(signum: int, frame: FrameType | None) -> None:
        from airflow.sdk.exceptions import AirflowTaskTimeout

        raise AirflowTaskTimeout(f"{what} ran past its time limit of {seconds:,.0f} s; ended, to be retried")

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:
            signal.setitimer(signal.ITIMER_REAL, max(0.001, outer_left - (time.monotonic() - started)))
