"""The table scan's settings: the trigger form's values, validated once (pure, no I/O, no Airflow)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bulkscan.core.chunks import time_limit_bound_s
from bulkscan.core.estimated_plan import PLANNINGS, Planning
from bulkscan.core.identifiers import validate_identifier
from bulkscan.core.keys import parse_key_columns
from bulkscan.core.processor_loader import load_processor
from bulkscan.core.processors import Processor
from bulkscan.core.values import optional_str, positive_int
from bulkscan.errors import BulkscanInputError

JOB = "table_scan"


@dataclass(frozen=True)
class TableScanSettings:
    """One run's settings; `from_params` refuses a bad value before any query runs."""

    conn_id: str
    table: str
    key_columns: tuple[str, ...]  # one integer column, a composite or string key, or () for the primary key
    database: str | None = None
    group_column: str | None = None
    value_column: str | None = None
    filters: tuple[Any, ...] = ()
    rows_per_chunk: int = 2_500_000  # docs/table-scan.md, 'Chunk size'
    max_chunks: int = 64
    max_parallel_chunks: int = 4
    planning: Planning = "estimate"
    batch_seconds: float = 0.5
    chunk_time_limit_s: int = 7_200  # the form's bound on a chunk's own time limit
    processor: str = "aggregate"
    processor_args: Mapping[str, Any] = field(default_factory=dict)
    results_conn_id: str | None = None
    results_schema: str = "bulkscan"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TableScanSettings:
        group, value = params.get("group_column"), params.get("value_column")
        return cls(
            conn_id=str(params["conn_id"]),
            database=optional_str(params.get("database")),
            table=validate_identifier(params["table"], "table"),
            key_columns=parse_key_columns(params.get("key_column")),
            group_column=validate_identifier(group, "group column") if group else None,
            value_column=validate_identifier(value, "value column") if value else None,
            filters=tuple(params.get("filters") or ()),
            rows_per_chunk=positive_int(params["rows_per_chunk"], "rows per chunk"),
            max_chunks=positive_int(params["max_chunks"], "maximum chunks"),
            max_parallel_chunks=positive_int(params["max_parallel_chunks"], "maximum parallel chunks"),
            planning=_planning(params.get("planning") or "estimate"),
            batch_seconds=float(params.get("batch_seconds") or 0.5),
            chunk_time_limit_s=time_limit_bound_s(params),
            processor=str(params.get("processor") or "aggregate"),
            processor_args=dict(params.get("processor_args") or {}),
            results_conn_id=optional_str(params.get("results_conn_id")),
            results_schema=validate_identifier(params.get("results_schema") or "bulkscan", "results schema"),
        )

    @property
    def results_conn(self) -> str:
        """Where the result tables live (the source connection unless another is given)."""
        return self.results_conn_id or self.conn_id

    def check_fan_out(self, max_map_length: int) -> None:
        if self.max_chunks > max_map_length:
            raise BulkscanInputError(
                f"maximum chunks {self.max_chunks} is above Airflow's max_map_length {max_map_length}"
            )

    def make_processor(self) -> Processor:
        if self.processor == "aggregate":
            return load_processor("aggregate", group=self.group_column, value=self.value_column)
        if self.processor == "count":
            return load_processor("count")
        return load_processor(self.processor, **dict(self.processor_args))

    def source(self, table_name: str) -> str:
        return f"{self.conn_id}:{table_name}"


def _planning(value: object) -> Planning:
    for planning in PLANNINGS:
        if value == planning:
            return planning
    raise BulkscanInputError(f"planning must be one of {', '.join(PLANNINGS)}, got {value!r}")
