"""What every member scoring task needs from Airflow's connections: the scoring database and its stores.

Glue (it resolves Airflow connection ids); the producers' and `apply`'s task bodies share it.
"""

from __future__ import annotations

from bulkscan.core.dbapi import ConnectFactory
from bulkscan.core.sqlfiles import raw
from bulkscan.errors import BulkscanInputError
from bulkscan.glue.connections import connect_factory, reachable
from bulkscan.jobs.member_scoring.settings import ScoringSettings
from bulkscan.jobs.member_scoring.store import ScoringStore
from bulkscan.mysqldb.connect import connection, scalar
from bulkscan.mysqldb.results import ResultStore


def scoring_connect(settings: ScoringSettings) -> ConnectFactory:
    return connect_factory(settings.conn_id, settings.database)


def scoring_db(settings: ScoringSettings, connect: ConnectFactory) -> str:
    """The scoring database: the 'database' param, else the connection's default schema."""
    with connection(reachable(connect, settings.conn_id)) as conn:
        if settings.database:
            return settings.database
        name = scalar(conn.cursor(), raw("common/current_database"))
    if not name:
        raise BulkscanInputError(f"connection {settings.conn_id!r} has no default schema; set the 'database' param")
    return str(name)


def results_store(settings: ScoringSettings, connect: ConnectFactory, database: str) -> ResultStore:
    """Where the producers' per-member partial sums go (the 'Partials schema', else the scoring database)."""
    return ResultStore(connect, settings.results_schema or database)


def scoring_store(settings: ScoringSettings, connect: ConnectFactory, database: str) -> ScoringStore:
    return ScoringStore(connect, database, settings.config, settings.results_schema or database)


def shard_run_key(run_key: str) -> str:
    """The shard producers' own run key: their chunk indices never collide with the table's."""
    return f"{run_key}/shards"


def redis_run_key(run_key: str) -> str:
    """The Redis producers' own run key (one chunk per primary, plus the mop-up's)."""
    return f"{run_key}/redis"


def ensured_stores(settings: ScoringSettings) -> tuple[ConnectFactory, str, ScoringStore]:
    """A planning task's start: the scoring connection, database and store, with the scoring tables and
    the partial store created or upgraded (so every later task finds them)."""
    connect = scoring_connect(settings)
    db = scoring_db(settings, connect)
    store = scoring_store(settings, connect, db)
    store.ensure()
    results_store(settings, connect, db).ensure()
    return connect, db, store
