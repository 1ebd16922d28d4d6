"""The Redis sweep's settings: the trigger form's values, validated once (pure, no I/O, no Airflow)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from bulkscan.core.sweep import SweepSpec, validate_run_token
from bulkscan.core.values import run_key
from bulkscan.errors import BulkscanInputError

DEFAULT_CONN_ID = "bulkscan_redis"


def run_token(dag_id: str, run_id: str) -> str:
    """The sweep's marker prefix for one DAG run: its run key, checked to hold no '|'."""
    return validate_run_token(run_key(dag_id, run_id))


def default_audit_dir() -> Path:
    """$BULKSCAN_AUDIT_DIR, else $AIRFLOW_HOME/bulkscan-audit/redis-sweep."""
    chosen = os.environ.get("BULKSCAN_AUDIT_DIR")
    if chosen:
        return Path(chosen)
    return Path(os.environ.get("AIRFLOW_HOME", ".")) / "bulkscan-audit" / "redis-sweep"


@dataclass(frozen=True)
class SweepSettings:
    """One sweep run: which connection, what to apply (`spec`), where the audit files go."""

    redis_conn_id: str
    spec: SweepSpec
    audit_dir: Path

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SweepSettings:
        conn_id = params.get("redis_conn_id")
        if not isinstance(conn_id, str) or not conn_id:
            raise BulkscanInputError("redis_conn_id is required")
        names = {f.name for f in fields(SweepSpec)}
        spec = SweepSpec(**{k: params[k] for k in names if k in params and params[k] is not None})
        chosen = params.get("audit_dir")
        return cls(conn_id, spec, Path(chosen) if chosen else default_audit_dir())
