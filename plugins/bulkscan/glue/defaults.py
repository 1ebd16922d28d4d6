"""Task defaults shared by every bulkscan DAG (read at parse time from the environment, no I/O)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any


def _int_env(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


RETRIES = _int_env("BULKSCAN_RETRIES", 3)
RETRY_DELAY = timedelta(seconds=_int_env("BULKSCAN_RETRY_DELAY_SECONDS", 30))
# Upper bound of mapped task instances of one task running at once in one DAG run (parse time).
MAX_ACTIVE_TIS_PER_DAGRUN = _int_env("BULKSCAN_MAX_ACTIVE_TIS_PER_DAGRUN", 16)


def default_args(**overrides: Any) -> dict[str, Any]:
    """Per-task retries with exponential back-off, so one failed chunk is retried on its own."""
    args: dict[str, Any] = {
        "owner": "bulkscan",
        "retries": RETRIES,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": 2.0 if RETRY_DELAY.total_seconds() >= 5 else 0,
        "max_retry_delay": timedelta(minutes=10),
    }
    args.update(overrides)
    return args
