"""bulkscan: fast, safe, retryable bulk jobs over MySQL and Redis as dynamically mapped Airflow tasks.

Layout: `core/` is pure Python (planning, rules, topology) with no I/O; `mysqldb/` and the Redis
modules talk to servers but not to Airflow; `glue/` is the only place that imports Airflow.
"""

from __future__ import annotations

__version__ = "0.1.0"
