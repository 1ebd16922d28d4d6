"""The audit store: where the Redis sweep's and the points fold's audit files go, seen by every worker.

One rule for every job, resolved inside a task (never at parse time):

1. the run's `audit_store` Param, when set, is the folder itself;
2. else the Airflow Variable `bulkscan_audit_store` (also settable as `AIRFLOW_VAR_BULKSCAN_AUDIT_STORE`)
   is the root, and each job writes below it (`redis-sweep/`, `member-scoring/`);
3. else `file://$AIRFLOW_HOME/bulkscan-audit`: right for one machine only. With workers on several hosts
   it is a disk of each worker's own, and the first task on another host refuses to run
   (`audit.require_shared`), before it touches a key.

Values are `ObjectStoragePath` URLs: `s3://<conn_id>@bucket/prefix` (the Amazon provider's filesystem,
credentials from the Airflow connection), `gs://...`, a shared `file:///mnt/...` mount, or an absolute
path (read as `file://`).
"""

from __future__ import annotations

import os

from airflow.sdk import ObjectStoragePath, Variable
from airflow.utils.net import get_hostname

from bulkscan.errors import BulkscanInputError
from bulkscan.redisnodes.audit import StorePath, require_shared, write_plan_marker

VARIABLE = "bulkscan_audit_store"


def default_root() -> str:
    return f"file://{os.path.abspath(os.environ.get('AIRFLOW_HOME', '.'))}/bulkscan-audit"


def _as_url(value: str) -> str:
    return value if "://" in value else f"file://{value}"


def audit_store(chosen: str | None, job: str) -> ObjectStoragePath:
    """The folder of one job's audit files by the rule above."""
    if chosen:
        url = _as_url(chosen)
    else:
        url = f"{_as_url(str(Variable.get(VARIABLE, default='') or default_root())).rstrip('/')}/{job}"
    try:
        return ObjectStoragePath(url)
    except Exception as exc:  # an unknown scheme, a provider not installed, a bad connection id
        raise BulkscanInputError(f"audit store {url!r} cannot be opened: {exc}") from exc


def open_for_run(store: StorePath, run_token: str) -> None:
    """In the plan task, before any key is touched: the store must be writable; the marker written here
    lets every later task prove it sees this same store."""
    try:
        write_plan_marker(store, run_token, get_hostname())
    except OSError as exc:
        raise BulkscanInputError(f"audit store {store} is not writable: {exc}") from exc


def check_shared(store: StorePath, run_token: str) -> None:
    """In every task after the plan (see `audit.require_shared`)."""
    require_shared(store, run_token, get_hostname())
