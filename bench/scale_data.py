"""The tables of `make bench-scale`: the same sparse id layout at 10^7 and 10^8 rows, built server-side
once (MariaDB's sequence engine, batches of 5M rows) on a dedicated loopback MariaDB and reused.

Layout of a table of R rows (ids are BIGINT UNSIGNED, inserted in key order):
  - islands:   40% of the rows in 20 islands, every 3rd id, island k starting at k * 10^8;
  - hot range: 30% of the rows as consecutive ids from 3 * 10^9 (dense: every id present);
  - one gap of 10^12 ids;
  - tail:      30% of the rows, every 7th id.
So min..max spans about 10^12 ids of which a 10^-4 part holds rows: striding min..max puts every row
in a handful of chunks, and a planner must find the islands to balance them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

ISLANDS = 20
ISLAND_BASE = 100_000_000
HOT_BASE = 3_000_000_000
GAP = 10**12
BATCH = 5_000_000


@dataclass(frozen=True)
class Segment:
    name: str
    rows: int
    base: int
    step: int


def layout(rows: int) -> list[Segment]:
    island = rows * 2 // 100  # 2% of the rows per island, 20 islands
    hot = rows * 3 // 10
    segments = [Segment(f"island {k}", island, k * ISLAND_BASE, 3) for k in range(1, ISLANDS + 1)]
    segments.append(Segment("hot range", hot, HOT_BASE, 1))
    tail = rows - island * ISLANDS - hot
    segments.append(Segment("tail", tail, HOT_BASE + hot + GAP, 7))
    return segments


def table_name(rows: int) -> str:
    return f"scale_{rows // 1_000_000}m"


def ensure_table(conn: Any, database: str, rows: int, users: int = 100_000) -> tuple[str, float]:
    """Create `database.scale_<n>m` unless it holds exactly `rows` rows. Returns (name, seconds to build;
    0.0 when reused)."""
    name = table_name(rows)
    cur = conn.cursor()
    cur.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    cur.execute(f"USE `{database}`")
    cur.execute(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (database, name),
    )
    if cur.fetchone()[0]:
        cur.execute(f"SELECT COUNT(*) FROM `{name}`")
        if cur.fetchone()[0] == rows:
            return name, 0.0
    t0 = time.perf_counter()
    build = f"{name}_build"
    cur.execute(f"DROP TABLE IF EXISTS `{build}`")
    cur.execute(
        f"CREATE TABLE `{build}` (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, user_id INT NOT NULL,"
        " amount INT NOT NULL) ENGINE=InnoDB"
    )
    done = 0
    for seg in layout(rows):
        for start in range(0, seg.rows, BATCH):
            end = min(seg.rows, start + BATCH) - 1
            # integers formatted by this module, not user input (a sequence table cannot be a parameter)
            cur.execute(
                f"INSERT INTO `{build}` (id, user_id, amount) SELECT {seg.base} + s.seq * {seg.step},"
                f" ((s.seq + {done}) * 7919) % {users} + 1, CAST(((s.seq + {done}) * 104729) % 1000 AS SIGNED) - 100"
                f" FROM seq_{start}_to_{end} s"
            )
            conn.commit()
        done += seg.rows
    cur.execute(f"DROP TABLE IF EXISTS `{name}`")
    cur.execute(f"RENAME TABLE `{build}` TO `{name}`")
    cur.execute(f"ANALYZE TABLE `{name}`")
    cur.fetchall()
    return name, time.perf_counter() - t0


def disk_mb(conn: Any, database: str, name: str) -> int:
    cur = conn.cursor()
    cur.execute(
        "SELECT DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (database, name),
    )
    row = cur.fetchone()
    return int(row[0]) >> 20 if row else 0
