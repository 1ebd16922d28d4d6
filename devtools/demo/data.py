"""Deterministic event tables with id gaps, built server-side from MariaDB's sequence engine.

Used by the demo, the integration tests and the benchmarks: `n` rows, every 7th id missing, and
one huge gap (a billion ids) in the middle, so planners that stride min..max evenly fail visibly.
"""

from __future__ import annotations

from typing import Any

from bulkscan.core.identifiers import quote_identifier, quote_qualified
from bulkscan.mysqldb.connect import ConnectFactory, close_quietly

HUGE_GAP = 1_000_000_000


def create_events(
    connect: ConnectFactory,
    database: str,
    table: str,
    rows: int,
    *,
    users: int = 10_000,
    huge_gap: bool = True,
) -> int:
    """Create `database.table` with `rows` rows unless it already holds exactly that many."""
    qdb, qt = quote_identifier(database, "database"), quote_qualified(database, table)
    conn = connect()
    try:
        cur = conn.cursor()
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {qdb}")
        if _row_count(cur, database, table) == rows:
            return rows
        cur.execute(f"USE {qdb}")  # the sequence engine's seq_1_to_N tables resolve in a current schema
        cur.execute(f"DROP TABLE IF EXISTS {qt}")
        cur.execute(
            f"CREATE TABLE {qt} (id BIGINT NOT NULL PRIMARY KEY, user_id INT NOT NULL, amount INT NOT NULL, "
            "created_at DATETIME NOT NULL, note VARCHAR(32) NOT NULL, KEY (created_at)) ENGINE=InnoDB"
        )
        span = rows + rows // 6 + 7
        half = span // 2
        gap = HUGE_GAP if huge_gap else 0
        # Integers below are formatted, not user input: the sequence table name cannot be a parameter.
        cur.execute(
            f"INSERT INTO {qt} (id, user_id, amount, created_at, note) "
            f"SELECT s.seq + IF(s.seq > {int(half)}, {int(gap)}, 0), (s.seq * 7919) % {int(users)} + 1, "
            "CAST((s.seq * 104729) % 1000 AS SIGNED) - 100, "
            "TIMESTAMP('2026-01-01') + INTERVAL (s.seq % 2592000) SECOND, CONCAT('n', s.seq % 97) "
            f"FROM seq_1_to_{int(span)} s WHERE s.seq % 7 <> 3 ORDER BY s.seq LIMIT {int(rows)}"
        )
        return _row_count(cur, database, table) or 0
    finally:
        close_quietly(conn)


def _row_count(cur: Any, database: str, table: str) -> int | None:
    cur.execute(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (database, table),
    )
    if not cur.fetchone()[0]:
        return None
    cur.execute(f"SELECT COUNT(*) FROM {quote_qualified(database, table)}")
    return int(cur.fetchone()[0])
