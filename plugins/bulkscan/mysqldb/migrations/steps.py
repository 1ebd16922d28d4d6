"""What a revision script does: run one of include/sql/results/schema_NNNN*.sql on the schema."""

from __future__ import annotations

from alembic import op

from bulkscan.core.identifiers import quote_identifier
from bulkscan.core.sqlfiles import Fragment, statements


def run_file(name: str, schema: str) -> None:
    for stmt in statements(name, schema=Fragment(quote_identifier(schema, "results schema"))):
        op.get_bind().exec_driver_sql(stmt)
