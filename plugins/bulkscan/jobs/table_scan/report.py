"""What the run report (bulkscan.ui) shows of a table scan run: its rows in bulkscan_chunk."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bulkscan.jobs.table_scan.settings import TableScanSettings
from bulkscan.jobs.table_scan.tasks import results_store


def chunk_rows(params: Mapping[str, Any], run_key: str) -> list[dict[str, Any]]:
    """The run's chunks as the scan stored them, through the results connection the run used."""
    return results_store(TableScanSettings.from_params(params)).chunks(run_key)
