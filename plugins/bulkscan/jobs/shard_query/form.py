"""The shard fan-out's trigger form: every field typed, bounded, titled and explained."""

from __future__ import annotations

from typing import Any

from bulkscan.glue import params as fields
from bulkscan.glue.defaults import task_timeout_minutes

TOPOLOGY_HELP = (
    "A .json file under include/ (e.g. shards.json), or the topology itself: "
    '{"database": "db", "hosts": {"<mysql conn id>": <tables>}}. Tables are written two ways. '
    'A range or list, as your scripts write them: "table_096-0111" means tables 96 to 111, whatever '
    'zero padding the server uses (table_096 or table_96); ["table_016-020", "table_031"] mixes both. '
    'Or a pattern that finds them on the host: {"tables": {"like": "table_%"}} or '
    '{"tables": {"regex": "^table_[0-9]+$"}}. A per-host "database" overrides the default. Missing or '
    "ambiguous tables, overlaps and unknown connection ids fail before any query runs."
)


def params() -> dict[str, Any]:
    return {
        "topology": fields.param(
            "shards.json",
            type=["string", "object"],
            title="Shard topology",
            description=TOPOLOGY_HELP,
            section=fields.SOURCE,
        ),
        "key_column": fields.key_column("Indexed integer column of every shard table (big shards are chunked on it)."),
        **fields.processor_fields("grp", "amount"),
        "filters": fields.filters(" in every shard"),
        **_query_file(),
        "tables_per_task": fields.param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=256,
            title="Tables or chunks per task",
            description="Empty (default): each host's tables and chunks are packed into one task per query "
            "slot (max_queries_per_host), run side by side within the per-host cap. 1: every shard table "
            "(and every chunk of a big one) is its own mapped task. k > 1: packed k per task (a retry "
            "re-runs the whole task).",
            section=fields.CHUNKS,
        ),
        "rows_per_chunk": fields.rows_per_chunk(
            5_000_000,
            "A shard estimated at more than 1.5 times this is split into about "
            "estimate / rows-per-chunk ID-range chunks of near-equal rows, part of the same fan-out.",
        ),
        "max_chunks_per_table": fields.max_chunks(
            64, "Upper bound on the chunks of one shard table.", title="Maximum chunks per shard"
        ),
        "chunk_time_limit_minutes": fields.chunk_time_limit(
            task_timeout_minutes(),
            piece="A shard task running longer is ended and retried whole",
            source="topology",
        ),
        "max_queries_per_host": fields.max_parallel(
            2,
            "Never more than this many scans at once against one MySQL server, however many shard tasks "
            "are ready (a slot semaphore held on the server itself, shared by every worker).",
            title="Maximum queries per host",
        ),
        "results_conn_id": fields.mysql_conn_id(
            "Where bulkscan writes its own result tables (not a shard host).",
            title="Results connection id",
            section=fields.RESULTS,
        ),
        "results_schema": fields.results_schema(),
    }


def _query_file() -> dict[str, Any]:
    """The user's own per-shard SQL file instead of a processor, and its bound parameters."""
    return {
        "query_file": fields.param(
            None,
            type=["null", "string"],
            pattern=r"^[a-z][a-z0-9_]{0,63}(\.sql)?$",
            title="Query file (optional)",
            description="Your own per-shard query instead of the processor: a file under include/sql/ "
            "(e.g. shard_query_example.sql) that returns (group, value, count) rows "
            "FROM {table} WHERE {range} ...; bulkscan fills in the checked table and the key range, "
            "every other value is a %(name)s parameter from 'Query parameters'. Checked against "
            "every host before any scan.",
            section=fields.PROCESSING,
        ),
        "query_params": fields.param(
            {},
            type="object",
            title="Query parameters",
            description='Values bound to the query file\'s %(name)s parameters, e.g. {"min_amount": 100}.',
            section=fields.PROCESSING,
        ),
    }
