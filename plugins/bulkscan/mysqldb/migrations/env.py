"""Alembic's environment for bulkscan's results schema: always online, on the caller's connection."""

from __future__ import annotations

from alembic import context

from bulkscan.mysqldb.migrations import VERSION_TABLE

config = context.config
schema = config.attributes["schema"]
connection = config.attributes["connection"]
if connection is None:
    raise RuntimeError("bulkscan migrations run through bulkscan.mysqldb.migrations.upgrade()")
# MySQL commits DDL as it goes, so each revision is its own step; the version row follows each one.
context.configure(
    connection=connection,
    version_table=VERSION_TABLE,
    version_table_schema=schema,
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations(schema=schema)
