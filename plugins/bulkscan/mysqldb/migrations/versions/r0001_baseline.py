"""Revision 0001: the tables of the first release (lo/hi BIGINT).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from bulkscan.mysqldb.migrations.steps import run_file

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    run_file("results/schema_0001", schema)


def downgrade(schema: str) -> None:
    raise NotImplementedError("revision 0001 is the first: drop the schema by hand to remove bulkscan")
