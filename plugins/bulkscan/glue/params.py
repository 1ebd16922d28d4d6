"""Trigger-form fields shared by the DAGs, so the same field reads the same everywhere.

Optional fields are nullable with a null default: the UI marks a non-nullable field as required
and will not submit the form while it is empty. Patterns come from bulkscan.core.values, the same
rules the jobs' `from_params()` apply.
"""

from __future__ import annotations

from typing import Any

from bulkscan.core.estimated_plan import PLANNINGS
from bulkscan.core.identifiers import IDENT_PATTERN
from bulkscan.core.values import KEY_COLUMNS_PATTERN, OPTIONAL_IDENT_PATTERN, ROW_PROCESSOR_PATTERN

FILTER_OPS = '= != < <= > >= in "is null" "is not null"'
# Form sections. What a run reads (SOURCE: None) stays in the form's open default section ("Run
# Parameters"); the tuning knobs are grouped in sections the UI shows collapsed until opened.
SOURCE: str | None = None
CHUNKS = "Chunks and parallelism"
PROCESSING = "Processing"
RESULTS = "Results"


def param(*args: Any, section: str | None = None, **kwargs: Any) -> Any:
    """airflow.sdk.Param, imported when a form is built (inside the DAG file's parse), never before."""
    from airflow.sdk import Param

    if section is not None:
        kwargs["section"] = section
    return Param(*args, **kwargs)


def mysql_conn_id(
    description: str, title: str = "MySQL connection id", section: str | None = SOURCE, default: str = "bulkscan_mysql"
) -> Any:
    return param(default, type="string", minLength=1, title=title, description=description, section=section)


def database(description: str) -> Any:
    return param(
        None,
        type=["null", "string"],
        pattern=OPTIONAL_IDENT_PATTERN,
        title="Database",
        description=description,
        section=SOURCE,
    )


def table(default: str, description: str, title: str = "Table") -> Any:
    return param(default, type="string", pattern=IDENT_PATTERN, title=title, description=description, section=SOURCE)


def redis_field(default: str, title: str, description: str, section: str | None) -> Any:
    """A Redis hash field name: 1-200 characters."""
    return param(
        default, type="string", minLength=1, maxLength=200, title=title, description=description, section=section
    )


def key_column(description: str) -> Any:
    return param(
        "id", type="string", pattern=IDENT_PATTERN, title="Integer key column", description=description, section=SOURCE
    )


def key_columns(description: str) -> Any:
    """One integer column, a composite or string key as 'col1, col2', or empty for the primary key."""
    return param(
        "id",
        type=["null", "string"],
        pattern=KEY_COLUMNS_PATTERN,
        title="Key column(s)",
        description=description,
        section=SOURCE,
    )


def rows_per_chunk(default: int, description: str, minimum: int = 1_000, title: str = "Rows per chunk") -> Any:
    return param(
        default,
        type="integer",
        minimum=minimum,
        maximum=100_000_000,
        title=title,
        description=description,
        section=CHUNKS,
    )


def max_chunks(default: int, description: str, title: str = "Maximum chunks") -> Any:
    return param(default, type="integer", minimum=1, maximum=1024, title=title, description=description, section=CHUNKS)


def max_parallel(default: int, description: str, title: str = "Maximum parallel chunks") -> Any:
    return param(default, type="integer", minimum=1, maximum=64, title=title, description=description, section=CHUNKS)


def processor_fields(group_default: str | None, value_default: str) -> dict[str, Any]:
    """processor, group_column, value_column and processor_args."""
    return {
        "processor": param(
            "aggregate",
            type="string",
            pattern=ROW_PROCESSOR_PATTERN,
            title="Processor",
            description="'aggregate' (sum of value per group), 'count', or a user processor "
            "'package.module:factory' receiving batches of rows.",
            examples=["aggregate", "count"],
            section=PROCESSING,
        ),
        "group_column": param(
            group_default,
            type=["null", "string"],
            pattern=OPTIONAL_IDENT_PATTERN,
            title="Group column",
            description="Aggregate processor: sum per value of this column (empty: one total).",
            section=PROCESSING,
        ),
        "value_column": param(
            value_default,
            type="string",
            pattern=IDENT_PATTERN,
            title="Value column",
            description="Aggregate processor: the column that is summed.",
            section=PROCESSING,
        ),
        "processor_args": processor_args("Keyword arguments for a user processor factory."),
    }


def processor_args(description: str) -> Any:
    return param({}, type="object", title="Processor arguments", description=description, section=PROCESSING)


def filters(scope: str) -> Any:
    return param(
        [],
        type="array",
        title="Filter",
        description=f"Rows to include{scope}, as [column, op, value] triples with op one of {FILTER_OPS}; "
        'values are bound, e.g. [["created_at", ">=", "2026-01-01"], ["created_at", "<", "2026-01-02"]].',
        items={"type": "array", "minItems": 2, "maxItems": 3},
        section=SOURCE,
    )


def planning() -> Any:
    return param(
        "estimate",
        type="string",
        enum=list(PLANNINGS),
        title="Planning",
        description=(
            "How chunk boundaries of an integer key are found. 'estimate': from the server's range estimates "
            "(EXPLAIN), reading no rows, so planning takes well under a second at any table size; chunk rows "
            "are estimates (within a few percent on InnoDB) and the scan counts them exactly. 'walk': by "
            "walking the key index, exact but one read of the whole index (about 1.5 s per 10M rows). A "
            "filtered plan and a string key always walk; a composite key led by integers is estimated one "
            "column at a time."
        ),
        section=CHUNKS,
    )


def chunk_time_limit(
    maximum_minutes: int,
    piece: str = "A chunk running longer is ended and retried from its checkpoint",
    source: str = "table",
) -> Any:
    """The bound of a mapped piece's own time limit (bulkscan.core.chunks.chunk_time_limit); `piece` says
    what is ended and how it resumes, `source` whose last run the rate comes from."""
    return param(
        min(120, maximum_minutes),
        type="integer",
        minimum=1,
        maximum=maximum_minutes,
        title="Chunk time limit (minutes)",
        description=(
            f"{piece} (a lock or a hung connection should not hold its slot for hours). The limit is derived "
            f"from the plan: 10x the planned rows at the slowest rate of the {source}'s last run, at least 5 "
            f"minutes, and never more than this. Before the {source}'s first run, this is the limit. At most "
            "the task's execution_timeout."
        ),
        section=CHUNKS,
    )


def batch_seconds() -> Any:
    return param(
        0.5,
        type="number",
        minimum=0.05,
        maximum=30,
        title="Target seconds per query",
        description="Keyset batches grow or shrink so one query takes about this long.",
        section=CHUNKS,
    )


def results_schema() -> Any:
    return param(
        "bulkscan",
        type="string",
        pattern=IDENT_PATTERN,
        title="Results schema",
        description="Schema of bulkscan's own tables (bulkscan_chunk, bulkscan_result, ...).",
        section=RESULTS,
    )
