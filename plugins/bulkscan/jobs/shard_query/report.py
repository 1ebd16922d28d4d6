"""What the run report (bulkscan.ui) shows of a shard query run: its shard chunks and the host cap."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulkscan.jobs.shard_query.settings import ShardSettings
from bulkscan.jobs.shard_query.tasks import store


def chunk_rows(params: Mapping[str, Any], run_key: str) -> list[dict[str, Any]]:
    """One row per shard table (or chunk of a big one), source "conn_id / database.table"."""
    return store(params).chunks(run_key)


def host_cap(params: Mapping[str, Any]) -> int:
    return ShardSettings.from_params(params).max_queries_per_host
