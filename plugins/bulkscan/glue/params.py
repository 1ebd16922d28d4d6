"""Trigger-form fields shared by the DAGs, so the same field reads the same everywhere.

Optional fields are nullable with a null default: the UI marks a non-nullable field as required
and will not submit the form while it is empty.
"""

from __future__ import annotations

from typing import Any

IDENT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_$]{0,63}$"
OPTIONAL_IDENT_PATTERN = r"^([A-Za-z_][A-Za-z0-9_$]{0,63})?$"
PROCESSOR_PATTERN = r"^(aggregate|count|[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*)$"
FILTER_OPS = '= != < <= > >= in "is null" "is not null"'


def _param(*args: Any, **kwargs: Any) -> Any:
    from airflow.sdk import Param

    return Param(*args, **kwargs)


def key_column(description: str) -> Any:
    return _param("id", type="string", pattern=IDENT_PATTERN, title="Integer key column", description=description)


def processor_fields(group_default: str | None, value_default: str) -> dict[str, Any]:
    """processor, group_column, value_column and processor_args."""
    return {
        "processor": _param(
            "aggregate",
            type="string",
            pattern=PROCESSOR_PATTERN,
            title="Processor",
            description="'aggregate' (sum of value per group), 'count', or a user processor "
            "'package.module:factory' receiving batches of rows.",
            examples=["aggregate", "count"],
        ),
        "group_column": _param(
            group_default,
            type=["null", "string"],
            pattern=OPTIONAL_IDENT_PATTERN,
            title="Group column",
            description="Aggregate processor: sum per value of this column (empty: one total).",
        ),
        "value_column": _param(
            value_default,
            type="string",
            pattern=IDENT_PATTERN,
            title="Value column",
            description="Aggregate processor: the column that is summed.",
        ),
        "processor_args": _param(
            {},
            type="object",
            title="Processor arguments",
            description="Keyword arguments for a user processor factory.",
        ),
    }


def filters(scope: str) -> Any:
    return _param(
        [],
        type="array",
        title="Filter",
        description=f"Rows to include{scope}, as [column, op, value] triples with op one of {FILTER_OPS}; "
        'values are bound, e.g. [["created_at", ">=", "2026-01-01"], ["created_at", "<", "2026-01-02"]].',
        items={"type": "array", "minItems": 2, "maxItems": 3},
    )


def batch_seconds() -> Any:
    return _param(
        0.5,
        type="number",
        minimum=0.05,
        maximum=30,
        title="Target seconds per query",
        description="Keyset batches grow or shrink so one query takes about this long.",
    )


def results_schema() -> Any:
    return _param(
        "bulkscan",
        type="string",
        pattern=IDENT_PATTERN,
        title="Results schema",
        description="Schema of bulkscan's own tables (bulkscan_chunk, bulkscan_result, ...).",
    )
