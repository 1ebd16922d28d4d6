"""bulkscan's own schema, versioned with Alembic (as Airflow versions its metadata database).

`upgrade(connect, schema)` brings a results schema to the newest revision with its data kept; the
table-scan, shard and scoring plans call it (through `ResultStore.ensure`), and operators can run it
by hand: `python -m bulkscan.ops.migrate --conn-id bulkscan_mysql --schema bulkscan`.

The revisions are SQL files (include/sql/results/schema_NNNN*.sql) run by the scripts in
`versions/`; Alembic records the revision in `<schema>.bulkscan_schema_version`. A schema created
before versioning existed (revision 0001's tables, no version table) is upgraded in place: 0001's
statements are CREATE TABLE IF NOT EXISTS, so they find the tables and change nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection as SAConnection
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from bulkscan.core.dbapi import ConnectFactory
from bulkscan.core.identifiers import quote_identifier, validate_identifier
from bulkscan.core.sqlfiles import Fragment, raw, render
from bulkscan.errors import BulkscanError

VERSION_TABLE = "bulkscan_schema_version"
LOCK_TIMEOUT_S = 120
HERE = Path(__file__).parent


def _config(schema: str, conn: SAConnection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["schema"] = schema
    cfg.attributes["connection"] = conn
    return cfg


@contextlib.contextmanager
def _connected(connect: ConnectFactory, schema: str) -> Iterator[SAConnection]:
    """A SQLAlchemy connection over bulkscan's own connect factory (same credentials, same driver)."""
    engine = create_engine("mysql+mysqldb://", creator=connect, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision this bulkscan ships."""
    rev = ScriptDirectory.from_config(_config("bulkscan")).get_current_head()
    assert rev is not None
    return rev


def current(connect: ConnectFactory, schema: str) -> str | None:
    """The schema's recorded revision (None: not versioned yet, or not created)."""
    validate_identifier(schema, "results schema")
    with _connected(connect, schema) as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "version_table_schema": schema})
        return ctx.get_current_revision()


def upgrade(connect: ConnectFactory, schema: str, revision: str = "head") -> str:
    """Create or migrate `schema` to `revision` under a server-side lock; returns the revision now there."""
    validate_identifier(schema, "results schema")
    with _connected(connect, schema) as conn:
        conn.exec_driver_sql(render("common/create_database", database=Fragment(quote_identifier(schema))))
        got = conn.exec_driver_sql(raw("results/migrate_lock"), (f"bulkscan:migrate:{schema}", LOCK_TIMEOUT_S))
        if got.scalar() != 1:
            raise BulkscanError(f"another process has been migrating schema {schema} for {LOCK_TIMEOUT_S}s")
        try:
            command.upgrade(_config(schema, conn), revision)
        finally:
            conn.exec_driver_sql(raw("common/slot_release"), (f"bulkscan:migrate:{schema}",))
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "version_table_schema": schema})
        return ctx.get_current_revision() or ""


def downgrade(connect: ConnectFactory, schema: str, revision: str) -> None:
    """Back to an older revision (for a rollback of bulkscan itself)."""
    validate_identifier(schema, "results schema")
    with _connected(connect, schema) as conn:
        command.downgrade(_config(schema, conn), revision)
