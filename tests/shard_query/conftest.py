"""Two real MariaDB hosts (3306 and a second server on 3307 started by scripts/mysql2.sh) holding
2 x 16 shard tables with uneven sizes and id gaps, plus the ground truth computed from the generated
rows in Python (never by asking the servers)."""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import MySQLdb
import pytest

from bulkscan.mysqldb.connect import direct

ROOT = Path(__file__).resolve().parents[2]
MYSQL2 = ROOT / "scripts" / "mysql2.sh"
PORT_A = int(os.environ.get("BULKSCAN_MYSQL_PORT", "3306"))
PORT_B = int(os.environ.get("BULKSCAN_MYSQL2_PORT", "3307"))
DB = "bs_shard_it"
RESULTS = "bs_shard_results"
CONN_A, CONN_B = "bs_shard_a", "bs_shard_b"
os.environ[f"AIRFLOW_CONN_{CONN_A.upper()}"] = f"mysql://root@127.0.0.1:{PORT_A}/{DB}"
os.environ[f"AIRFLOW_CONN_{CONN_B.upper()}"] = f"mysql://root@127.0.0.1:{PORT_B}/{DB}"


def mysql2(action: str) -> None:
    subprocess.run([str(MYSQL2), action], check=True, stdout=subprocess.DEVNULL)


def connect(port: int, db: str | None = None) -> Any:
    return direct("127.0.0.1", port, database=db)()


@dataclass
class ShardData:
    topology: dict[str, Any]
    rows: dict[str, int]  # 'conn / table' -> rows
    truth: dict[str, tuple[int, int]] = field(default_factory=dict)  # grp -> (sum, count)
    tables: dict[str, list[tuple[int, str, int]]] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def truth_at_least(self, low: int) -> dict[str, tuple[int, int]]:
        """(sum, count) per group over the generated rows with amount >= low (the example query file)."""
        truth: dict[str, tuple[int, int]] = {}
        for rows in self.tables.values():
            for _, g, amount in rows:
                if amount >= low:
                    s, n = truth.get(g, (0, 0))
                    truth[g] = (s + amount, n + 1)
        return truth


def _table_rows(rng: random.Random, n: int) -> list[tuple[int, str, int]]:
    out, key = [], rng.randint(1, 1000)
    for _ in range(n):
        key += rng.choice((1, 1, 1, 2, 7, 50)) if rng.random() > 0.001 else 1_000_000  # gaps, some huge
        out.append((key, f"g{rng.randint(0, 9)}", rng.randint(-50, 1000)))
    return out


def _create(port: int, tables: dict[str, list[tuple[int, str, int]]]) -> None:
    conn = connect(port)
    cur = conn.cursor()
    cur.execute(f"DROP DATABASE IF EXISTS {DB}")
    cur.execute(f"CREATE DATABASE {DB}")
    cur.execute(f"USE {DB}")
    for name, rows in tables.items():
        cur.execute(
            f"CREATE TABLE {name} (id BIGINT PRIMARY KEY, grp VARCHAR(8) NOT NULL, amount INT NOT NULL) ENGINE=InnoDB"
        )
        for i in range(0, len(rows), 5000):
            cur.executemany(
                f"INSERT INTO {name} (id, grp, amount) VALUES (%s, %s, %s)",
                rows[i : i + 5000],
            )
    conn.close()


@pytest.fixture(scope="session")
def second_host() -> Iterator[int]:
    """Start the second MariaDB for this session (stopped again only if this session started it)."""
    was_up = subprocess.run([str(MYSQL2), "status"], check=False, stdout=subprocess.DEVNULL).returncode == 0
    mysql2("start")
    yield PORT_B
    if not was_up:
        mysql2("stop")


@pytest.fixture(scope="session")
def shard_data(second_host: int) -> Iterator[ShardData]:
    """2 hosts x 16 tables: one empty, one single row, one big (chunked), the rest uneven."""
    rng = random.Random(20260806)
    sizes = [
        0,
        1,
        30_000,
        *[rng.choice((40, 300, 1500, 4000, 9000)) for _ in range(29)],
    ]
    rng.shuffle(sizes)
    names = [f"table_{i:03d}" for i in range(32)]
    tables = {n: _table_rows(rng, s) for n, s in zip(names, sizes, strict=True)}
    _create(PORT_A, {n: tables[n] for n in names[:16]})
    _create(second_host, {n: tables[n] for n in names[16:]})
    truth: dict[str, list[int]] = {}
    for rows in tables.values():
        for _, g, a in rows:
            acc = truth.setdefault(g, [0, 0])
            acc[0] += a
            acc[1] += 1
    rows_per = {f"{CONN_A if i < 16 else CONN_B} / {n}": len(tables[n]) for i, n in enumerate(names)}
    data = ShardData(
        topology={
            "database": DB,
            "hosts": {
                CONN_A: "table_000-015",
                CONN_B: ["table_016-027", "table_028-031"],
            },
        },
        rows=rows_per,
        truth={g: (s, n) for g, (s, n) in truth.items()},
        tables=tables,
    )
    yield data
    for port in (PORT_A, second_host):
        with contextlib.suppress(MySQLdb.Error):
            connect(port).cursor().execute(f"DROP DATABASE IF EXISTS {DB}")


@pytest.fixture
def results_store() -> Iterator[Any]:
    from bulkscan.mysqldb.connect import direct
    from bulkscan.mysqldb.results import ResultStore

    store = ResultStore(direct("127.0.0.1", PORT_A), schema=RESULTS)
    store.ensure()
    yield store
    connect(PORT_A).cursor().execute(f"DROP DATABASE IF EXISTS {RESULTS}")


@pytest.fixture
def connect_for(second_host: int) -> Callable[[str, str], Any]:
    from bulkscan.mysqldb.connect import direct

    ports = {CONN_A: PORT_A, CONN_B: second_host}
    return lambda conn_id, database: direct("127.0.0.1", ports[conn_id], database=database)


def as_ints(result: dict[str, tuple[Any, int]]) -> dict[str, tuple[int, int]]:
    return {g: (int(s), int(n)) for g, (s, n) in result.items()}
