"""Upgrade (or inspect) bulkscan's own results schema, by hand, with the data kept.

Every plan already upgrades the schema it writes to (`ResultStore.ensure`), so nothing is needed for
a normal upgrade of bulkscan. This is for operators who apply schema changes in a maintenance window
or with a user that the DAGs' connection does not have the ALTER privilege for:

    python -m bulkscan.ops.migrate --conn-id bulkscan_mysql --schema bulkscan            # upgrade to head
    python -m bulkscan.ops.migrate --conn-id bulkscan_mysql --schema bulkscan --current  # show revision
    python -m bulkscan.ops.migrate --conn-id bulkscan_mysql --schema bulkscan --to 0001  # roll back

Exit status: 0 done, 1 a database error, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys

import MySQLdb
from sqlalchemy.exc import SQLAlchemyError

from bulkscan.errors import BulkscanError, BulkscanInputError
from bulkscan.glue.connections import connect_factory
from bulkscan.mysqldb import migrations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bulkscan.ops.migrate", description=__doc__.splitlines()[0])
    parser.add_argument("--conn-id", default="bulkscan_mysql", help="Airflow connection of the results server")
    parser.add_argument("--schema", default="bulkscan", help="bulkscan's results schema (results_schema param)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--current", action="store_true", help="print the schema's revision and the newest one")
    group.add_argument("--to", metavar="REVISION", help="upgrade or downgrade to this revision (default: head)")
    args = parser.parse_args(argv)
    try:
        connect = connect_factory(args.conn_id)
        head = migrations.head()
        if args.current:
            print(f"{args.schema}: revision {migrations.current(connect, args.schema) or 'none'} (head {head})")
            return 0
        target = args.to or head
        before = migrations.current(connect, args.schema)
        if before is not None and target != "head" and target < before:
            migrations.downgrade(connect, args.schema, target)
        else:
            migrations.upgrade(connect, args.schema, target)
        print(f"{args.schema}: revision {before or 'none'} -> {migrations.current(connect, args.schema)}")
        return 0
    except BulkscanInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (MySQLdb.Error, SQLAlchemyError, BulkscanError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
