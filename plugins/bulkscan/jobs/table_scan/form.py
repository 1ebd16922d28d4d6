"""The table scan's trigger form: every field typed, bounded, titled and explained."""

from __future__ import annotations

from typing import Any

from bulkscan.glue import params as fields
from bulkscan.glue.defaults import task_timeout_minutes


def params() -> dict[str, Any]:
    return {
        "conn_id": fields.mysql_conn_id("Airflow connection of the server holding the table."),
        "database": fields.database("Schema of the table; empty means the connection's default schema."),
        "table": fields.table("events", "Table to scan. Checked against information_schema before anything runs."),
        "key_column": fields.key_columns(
            "What the table is chunked on: an indexed integer column (chunks are ID ranges, 'id'), or the "
            "columns of a unique NOT NULL index in its order for a composite or string key ('shop_id, id', "
            "'sku'). Empty: the primary key."
        ),
        "filters": fields.filters(""),
        "rows_per_chunk": fields.rows_per_chunk(
            2_500_000,
            "Target rows in one mapped task (raised if the chunk count would exceed 'Maximum chunks'). Each "
            "task instance costs Airflow about a second (start, parse, XCom, state): keep chunks seconds to "
            "minutes long.",
        ),
        "max_chunks": fields.max_chunks(64, "Upper bound on mapped scan tasks (Airflow's max_map_length is 1024)."),
        "max_parallel_chunks": fields.max_parallel(
            4,
            "At most this many chunks query the server at once in this run "
            "(a slot semaphore held on the server), whatever the workers.",
        ),
        "planning": fields.planning(),
        "chunk_time_limit_minutes": fields.chunk_time_limit(task_timeout_minutes()),
        "batch_seconds": fields.batch_seconds(),
        **fields.processor_fields("user_id", "amount"),
        "results_conn_id": fields.param(
            None,
            type=["null", "string"],
            title="Results connection id",
            description="Where bulkscan writes its own result tables (empty: same as the source).",
            section=fields.RESULTS,
        ),
        "results_schema": fields.results_schema(),
    }
