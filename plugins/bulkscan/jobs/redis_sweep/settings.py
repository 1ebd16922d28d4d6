"""The Redis sweep's settings: the trigger form's values, validated once (pure, no I/O, no Airflow)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from bulkscan.core.chunks import time_limit_bound_s
from bulkscan.core.sweep import SweepSpec, validate_run_token
from bulkscan.core.values import run_key
from bulkscan.errors import BulkscanInputError

DEFAULT_CONN_ID = "bulkscan_redis"


def run_token(dag_id: str, run_id: str) -> str:
    """The sweep's marker prefix for one DAG run: its run key, checked to hold no '|'."""
    return validate_run_token(run_key(dag_id, run_id))


_STORE_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+|/\S*")


def audit_store_value(value: object) -> str | None:
    """The `audit_store` Param: empty (the shared default, see bulkscan.glue.storage), an absolute path
    or an ObjectStoragePath URL (`s3://conn@bucket/prefix`)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not _STORE_URL.fullmatch(value):
        raise BulkscanInputError(
            f"audit_store {value!r}: expected an absolute path or a URL such as s3://<conn_id>@bucket/prefix"
        )
    return value


@dataclass(frozen=True)
class SweepSettings:
    """One sweep run: which connection, what to apply (`spec`), where the audit files go (None: the
    shared default store)."""

    redis_conn_id: str
    spec: SweepSpec
    audit_store: str | None
    chunk_time_limit_s: int = 7_200  # the form's bound on a node task's own time limit

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SweepSettings:
        conn_id = params.get("redis_conn_id")
        if not isinstance(conn_id, str) or not conn_id:
            raise BulkscanInputError("redis_conn_id is required")
        names = {f.name for f in fields(SweepSpec)}
        spec = SweepSpec(**{k: params[k] for k in names if k in params and params[k] is not None})
        limit = time_limit_bound_s(params)
        return cls(conn_id, spec, audit_store_value(params.get("audit_store")), limit)
