"""Revision 0003: the partial sums indexed by (run, group), so the merge streams them in group order.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from bulkscan.mysqldb.migrations.steps import run_file

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    run_file("results/schema_0003", schema)


def downgrade(schema: str) -> None:
    run_file("results/schema_0003_down", schema)
