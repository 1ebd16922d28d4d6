"""The shard fan-out's settings: the trigger form's values, validated once (pure, no I/O, no Airflow).

The same names run from the form to the planner: `rows_per_chunk`, `max_chunks_per_table`,
`tables_per_task`, `max_queries_per_host`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bulkscan.core.batching import AdaptiveBatch
from bulkscan.core.chunks import time_limit_bound_s
from bulkscan.core.identifiers import validate_identifier
from bulkscan.core.processor_loader import load_processor
from bulkscan.core.processors import Processor, SqlFileAggregate
from bulkscan.core.tablespec import TableSpec, parse_filters
from bulkscan.core.values import positive_int

JOB = "shard_query"


AUTO_UNITS_PER_CAP = 1


@dataclass(frozen=True)
class ShardSettings:
    """What every unit needs; built once from the DAG params (`from_params`) or the benchmark's arguments."""

    key_column: str = "id"
    processor: str = "aggregate"
    processor_kwargs: Mapping[str, Any] = field(default_factory=dict)
    filters: Sequence[Any] = ()
    rows_per_chunk: int = 5_000_000  # a pushed-down chunk of this size is a few seconds of server time
    max_chunks_per_table: int = 64
    tables_per_task: int | None = None  # None: packed automatically (AUTO_UNITS_PER_CAP tasks per query slot)
    max_queries_per_host: int = 2
    chunk_time_limit_s: int = 7_200  # the form's bound on a shard task's own time limit
    slot_timeout_s: float = 6 * 3600
    batch_rows: int = 2_000_000
    batch_seconds: float = 0.5

    def __post_init__(self) -> None:
        for name in (
            "rows_per_chunk",
            "max_chunks_per_table",
            "max_queries_per_host",
            "batch_rows",
            "chunk_time_limit_s",
        ):
            positive_int(getattr(self, name), name)
        if self.tables_per_task is not None:
            positive_int(self.tables_per_task, "tables_per_task")
        processor = self.make_processor()  # fail before queries
        if isinstance(processor, SqlFileAggregate):
            processor.refuse_filters(self.filters)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ShardSettings:
        """Params -> validated settings (bad values are input errors before any query)."""
        processor = str(params.get("processor") or "aggregate")
        kwargs: dict[str, Any]
        if params.get("query_file"):
            processor = "sql_file"
            kwargs = {"file": params["query_file"], "params": dict(params.get("query_params") or {})}
        elif processor == "aggregate":
            kwargs = {"group": params.get("group_column") or None, "value": params.get("value_column")}
        elif processor == "count":
            kwargs = {}
        else:
            kwargs = dict(params.get("processor_args") or {})
        return cls(
            key_column=validate_identifier(params.get("key_column") or "id", "key column"),
            processor=processor,
            processor_kwargs=kwargs,
            filters=list(params.get("filters") or []),
            rows_per_chunk=params.get("rows_per_chunk", 5_000_000),
            max_chunks_per_table=params.get("max_chunks_per_table", 64),
            tables_per_task=params.get("tables_per_task"),
            max_queries_per_host=params.get("max_queries_per_host", 2),
            chunk_time_limit_s=time_limit_bound_s(params),
        )

    def units_per_host(self) -> int:
        """With automatic packing, how many mapped tasks a host's tables and chunks go into: one per query
        slot, each running its items one after another in its slot (make bench-stack: 1 per slot was
        1.30 of the asyncio batches, 2 per slot 1.64, one task per table 9.5)."""
        return AUTO_UNITS_PER_CAP * self.max_queries_per_host

    def make_processor(self) -> Processor:
        return load_processor(self.processor, **dict(self.processor_kwargs))

    def batch(self) -> AdaptiveBatch | None:
        """Pushed-down aggregates return one row per group, so a sub-range may span many rows: a planned
        chunk or a whole small shard (at most 1.5 x `rows_per_chunk` rows) is one query with no index
        walk; anything bigger is walked in sub-ranges steered toward `batch_seconds` per query. Row
        processors keep the scanner's own default."""
        if self.processor not in ("aggregate", "sql_file"):
            return None
        size = max(self.batch_rows, 2 * self.rows_per_chunk)
        return AdaptiveBatch(size=size, target_seconds=self.batch_seconds, maximum=max(5_000_000, size), max_growth=4.0)

    def columns(self) -> tuple[str, ...]:
        return tuple(self.make_processor().columns or ())

    def spec_for(self, database: str, table: str) -> TableSpec:
        """The spec of a shard already checked at plan time (same shape as a fully resolved shard)."""
        return TableSpec(
            validate_identifier(database, "database"),
            validate_identifier(table, "shard table"),
            validate_identifier(self.key_column, "key column"),
            tuple(dict.fromkeys([self.key_column, *self.columns()])),
            parse_filters(self.filters),
        )
