"""Revision 0002: bounds for every integer key (DECIMAL(20,0)), composite/string bounds, chunk labels,
checkpoints and the outbox.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from bulkscan.mysqldb.migrations.steps import run_file

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade(schema: str) -> None:
    run_file("results/schema_0002", schema)


def downgrade(schema: str) -> None:
    run_file("results/schema_0002_down", schema)
