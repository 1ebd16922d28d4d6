"""Seed the demo source data through the Airflow connection `bulkscan_mysql` (docker-compose's
`bulkscan-seed` service and `make demo` both use this). Idempotent: an existing table of the right
size is kept."""

from __future__ import annotations

import os
import sys
import time

DEMO_DB = os.environ.get("BULKSCAN_DEMO_DB", "bulkscan_demo")
DEMO_ROWS = int(os.environ.get("BULKSCAN_DEMO_ROWS", "1000000"))


def seed_events(conn_id: str = "bulkscan_mysql", database: str = DEMO_DB, rows: int = DEMO_ROWS) -> int:
    """`database.events` with `rows` rows, every 7th id missing and one billion-id gap."""
    from bulkscan.glue.connections import connect_factory, reachable
    from bulkscan.mysqldb.connect import connection
    from devtools.demo.data import create_events

    connect = connect_factory(conn_id, "mysql")
    with connection(reachable(connect, conn_id)):
        pass  # an unreachable server is a clear error before anything is created
    return create_events(connect, database, "events", rows, users=10_000)


def main() -> int:
    t0 = time.monotonic()
    n = seed_events()
    print(f"seeded {DEMO_DB}.events: {n:,} rows [{time.monotonic() - t0:.1f}s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
