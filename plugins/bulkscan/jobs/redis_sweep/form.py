"""The Redis sweep's trigger form: every field typed, bounded, titled and explained."""

from __future__ import annotations

from typing import Any

from bulkscan.core.values import CONN_ID_PATTERN
from bulkscan.glue import params as fields
from bulkscan.glue.defaults import task_timeout_minutes
from bulkscan.jobs.redis_sweep.settings import DEFAULT_CONN_ID

SWEEP = None  # the fields, source and target: in the open default section


def params() -> dict[str, Any]:
    return {**_source(), **_sweep(), **_pages()}


def _source() -> dict[str, Any]:
    """Which keys: the connection and the key pattern."""
    return {
        "redis_conn_id": fields.param(
            DEFAULT_CONN_ID,
            type="string",
            pattern=CONN_ID_PATTERN,
            title="Redis connection",
            description='Airflow Redis connection. Extra {"cluster": true} (and optionally "startup_nodes") '
            "for a Redis Cluster; without it a standalone server is swept as one node.",
            section=fields.SOURCE,
        ),
        "pattern": fields.param(
            "*",
            type="string",
            minLength=1,
            maxLength=1000,
            title="Key pattern",
            description="SCAN MATCH glob of the hashes to sweep, e.g. user:*.",
            section=fields.SOURCE,
        ),
    }


def _sweep() -> dict[str, Any]:
    """What happens to each key (the seed's field_2 += field_1), once per run."""
    return {
        "source_field": fields.redis_field(
            "field_1",
            "Source field",
            "Hash field whose value is added. Only a positive 64-bit integer is added; missing, "
            "zero, negative or non-integer values leave the key untouched and are counted.",
            SWEEP,
        ),
        "target_field": fields.redis_field(
            "field_2", "Target field", "Hash field that grows by the source value (HINCRBY).", SWEEP
        ),
        "marker_field": fields.redis_field(
            "_bulkscan_sweep",
            "Marker field",
            "Hash field holding '<run>|<increment>|<new value>' once a key is applied in a run: "
            "makes the sweep exactly once per run (SCAN duplicates, retries, re-runs).",
            SWEEP,
        ),
    }


def _pages() -> dict[str, Any]:
    """How the keys are paged and where the audit trail goes."""
    return {
        "scan_count": fields.param(
            1000,
            type="integer",
            minimum=10,
            maximum=100_000,
            title="SCAN COUNT",
            description="Keys per SCAN page; each page is one server-side script call on its node.",
            section=fields.CHUNKS,
        ),
        "chunk_time_limit_minutes": fields.chunk_time_limit(
            task_timeout_minutes(),
            piece="A node task running longer is ended and retried (keys it applied stay applied, once)",
            source="connection",
        ),
        "key_type": fields.param(
            "hash",
            type="string",
            enum=["hash", ""],
            title="SCAN TYPE filter",
            description="'hash' lets the server skip keys of other types; '' scans every type.",
            section=fields.SOURCE,
        ),
        "audit_store": fields.param(
            None,
            type=["null", "string"],
            maxLength=1000,
            title="Audit store",
            description="Folder every worker sees for the per-node audit files <run>__<node>.csv.gz (key, "
            "increment, new value): an ObjectStoragePath URL (s3://<conn_id>@bucket/prefix, gs://..., "
            "file:///shared/...) or an absolute path. Empty: the Airflow Variable bulkscan_audit_store "
            "+ /redis-sweep, else $AIRFLOW_HOME/bulkscan-audit/redis-sweep (one machine only).",
            section=fields.RESULTS,
        ),
    }
