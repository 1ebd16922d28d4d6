"""Task defaults shared by every bulkscan DAG (read at parse time from the environment, no I/O)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from bulkscan.errors import BulkscanInputError

P = ParamSpec("P")
R = TypeVar("R")


def _int_env(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


RETRIES = _int_env("BULKSCAN_RETRIES", 3)
RETRY_DELAY = timedelta(seconds=_int_env("BULKSCAN_RETRY_DELAY_SECONDS", 30))
# Upper bound of mapped task instances of one task running at once in one DAG run (parse time).
MAX_ACTIVE_TIS_PER_DAGRUN = _int_env("BULKSCAN_MAX_ACTIVE_TIS_PER_DAGRUN", 16)
# Every task is killed (and retried) after this long; chunks are sized to take minutes.
TASK_TIMEOUT = timedelta(minutes=_int_env("BULKSCAN_TASK_TIMEOUT_MINUTES", 180))


def task_timeout_minutes() -> int:
    """Every task's execution_timeout in whole minutes (the upper bound of a chunk's own time limit)."""
    return max(1, int(TASK_TIMEOUT.total_seconds() // 60))


def chunk_time_limit_floor_s() -> int:
    """The least time limit a chunk is given however fast its table's last run was (read in the plan task,
    so a test can lower it)."""
    return max(1, _int_env("BULKSCAN_CHUNK_TIME_LIMIT_FLOOR_SECONDS", 300))


# A whole run is failed after this long (a run that cannot finish should page someone, not linger).
DAGRUN_TIMEOUT = timedelta(hours=_int_env("BULKSCAN_DAGRUN_TIMEOUT_HOURS", 20))
# member_scoring's deadline: finished this long after its run was queued (6 h: by 06:00 plus the grace
# period for the run queued when the business day closes); a miss sends an alert (bulkscan.glue.notify).
SCORING_DEADLINE_MINUTES = _int_env("BULKSCAN_SCORING_DEADLINE_MINUTES", 360)
HOURLY_DAGRUN_TIMEOUT = min(DAGRUN_TIMEOUT, timedelta(minutes=55))  # done before the next hour's run

# Airflow pools of the mapped tasks, one per kind of host they load (include/pools.json; created by
# `python -m bulkscan.ops.pools`, existing ones kept). A chunk beyond its pool's slots waits *scheduled*, in the
# scheduler, holding no worker slot; the server-side GET_LOCK slots stay as the cross-DAG safety net.
# Each is overridable at parse time, e.g. BULKSCAN_POOL_MYSQL=mysql_eu1 for a DAG folder on another host.
POOL_MYSQL = os.environ.get("BULKSCAN_POOL_MYSQL", "bulkscan_mysql")
POOL_SHARDS = os.environ.get("BULKSCAN_POOL_SHARDS", "bulkscan_shards")
POOL_REDIS = os.environ.get("BULKSCAN_POOL_REDIS", "bulkscan_redis")


def mapped(pool: str, label: str) -> dict[str, Any]:
    """The settings of every mapped chunk task: its Grid label, its pool, the per-run cap."""
    return {
        "map_index_template": "{{ " + label + " }}",
        "pool": pool,
        "max_active_tis_per_dagrun": MAX_ACTIVE_TIS_PER_DAGRUN,
    }


def _failure_alert() -> Any:
    from bulkscan.glue.notify import FailureAlert

    return FailureAlert()


def default_args(**overrides: Any) -> dict[str, Any]:
    """Per-task retries with exponential back-off, so one failed chunk is retried on its own."""
    args: dict[str, Any] = {
        "owner": "bulkscan",
        "retries": RETRIES,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": 2.0 if RETRY_DELAY.total_seconds() >= 5 else 0,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": TASK_TIMEOUT,
        "on_failure_callback": _failure_alert(),
    }
    args.update(overrides)
    return args


def max_map_length() -> int:
    """Airflow's cap on one mapped task's instances (core.max_map_length), read inside a task."""
    from airflow.configuration import conf

    return conf.getint("core", "max_map_length", fallback=1024)


def fail_fast_on_bad_input(fn: Callable[P, R]) -> Callable[P, R]:
    """Bad input fails the task at once, without retries: retrying an unknown table cannot help.

    Every other error (a lost host, a deadlock) keeps the task's retries with back-off.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from airflow.sdk.exceptions import AirflowFailException

        try:
            return fn(*args, **kwargs)
        except BulkscanInputError as exc:
            raise AirflowFailException(f"bad input (not retried): {exc}") from exc

    return wrapper
