"""The Celery configuration of bulkscan's workers: Airflow's own, plus modules imported once per worker.

A Celery worker forks its pool processes at start, and each task instance is forked again from one of
them (Airflow's supervisor), so a module the worker imported before forking costs its task processes
nothing. Without this every task instance imports bulkscan, the MySQL and Redis clients and (the plan)
Alembic anew, since parsing its DAG file in the task process is what first imports them: on the 2-core
loopback stack that was a second of CPU per chunk, on the cores the chunks' queries need.

Selected with `AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=bulkscan.glue.celery_config.CELERY_CONFIG`
(docker/airflow.env, read by docker-compose.yaml and the loopback stack). Importing these opens nothing:
no connection is made at import time anywhere in bulkscan, so the forked processes share no socket.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

# What the task processes of the four DAGs import (their task modules pull in the MySQL, Redis and
# provider modules they use); the schema migrations (Alembic) are what plan and the operator tools load.
PRELOAD = (
    "bulkscan.jobs.table_scan.tasks",
    "bulkscan.jobs.shard_query.tasks",
    "bulkscan.jobs.redis_sweep.tasks",
    "bulkscan.jobs.member_scoring.tasks",
    "bulkscan.jobs.member_scoring.hourly_tasks",
    "bulkscan.jobs.member_scoring.points_tasks",
    "bulkscan.jobs.member_scoring.shard_tasks",
    "bulkscan.glue.notify",
    "bulkscan.mysqldb.migrations",
    "airflow.providers.mysql.hooks.mysql",
    "airflow.providers.redis.hooks.redis",
)

CELERY_CONFIG: dict[str, Any] = {
    **DEFAULT_CELERY_CONFIG,
    "imports": PRELOAD,
    # A worker takes a task from the broker only when one of its processes is free (Celery 5.6, Redis
    # broker). With prefetching, a busy worker reserved the next chunks while another sat idle: on the
    # loopback stack the second half of a table scan's chunks queued behind one worker (make bench-stack).
    "worker_disable_prefetch": True,
}
