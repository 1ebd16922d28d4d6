"""Every integer key type, signed and UNSIGNED, from its minimum to its maximum, through a whole
`bulkscan_table_scan` run: plan, scan, the chunk and result tables, XCom, labels and reconcile.

Ground truth is a plain GROUP BY on the server. Rows whose value is NULL count in `row_count`
(COUNT(*)), and add nothing to `value_sum` (SUM skips NULL; a group of only NULLs sums to 0).
"""

from __future__ import annotations

import itertools
import os
from decimal import Decimal
from typing import Any

import pytest

from tests.airflow_helpers import load_dag, ti_table
from tests.conftest import MYSQL_HOST, MYSQL_PORT

pytestmark = [pytest.mark.integration, pytest.mark.dagrun]
DB = "bs_intkeys"
RESULTS = "bs_intkeys_results"
CONN = "bs_intkeys"
BITS = {"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "bigint": 64}
TYPES = [(name, unsigned) for name in BITS for unsigned in (False, True)]


def key_range(name: str, unsigned: bool) -> tuple[int, int]:
    bits = BITS[name]
    return (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def table_name(name: str, unsigned: bool) -> str:
    return f"k_{name}_{'u' if unsigned else 's'}"


def keys_of(name: str, unsigned: bool) -> list[int]:
    """Three islands far apart: at the bottom, in the middle and at the top of the type (TINYINT holds
    a single chunk's worth; every wider type several chunks, one of them ending at the maximum)."""
    lo, hi = key_range(name, unsigned)
    island = 40 if name == "tinyint" else 1_500
    middle = (lo + hi) // 2
    return sorted(
        {*range(lo, lo + island), *range(middle - island // 2, middle + island // 2), *range(hi - island + 1, hi + 1)}
    )


@pytest.fixture(scope="module")
def source(mysql_root: Any) -> Any:
    os.environ[f"AIRFLOW_CONN_{CONN.upper()}"] = f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{DB}"
    cur = mysql_root().cursor()
    for db in (DB, RESULTS):
        cur.execute(f"DROP DATABASE IF EXISTS {db}")
    cur.execute(f"CREATE DATABASE {DB}")
    for name, unsigned in TYPES:
        t = table_name(name, unsigned)
        cur.execute(
            f"CREATE TABLE {DB}.{t} (id {name} {'UNSIGNED' if unsigned else ''} NOT NULL PRIMARY KEY,"
            " g INT, v INT NULL)"
        )
        rows = [(k, k % 3, None if k % 7 == 0 else k % 1000) for k in keys_of(name, unsigned)]
        cur.executemany(f"INSERT INTO {DB}.{t} VALUES (%s, %s, %s)", rows)
    yield mysql_root
    for db in (DB, RESULTS):
        mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {db}")


@pytest.fixture(scope="module")
def dag() -> Any:
    return load_dag("bulkscan_table_scan")


def conf(table: str, **overrides: Any) -> dict[str, Any]:
    return {
        "conn_id": CONN,
        "table": table,
        "key_column": "id",
        "group_column": "g",
        "value_column": "v",
        "rows_per_chunk": 1_000,
        "max_chunks": 64,
        "max_parallel_chunks": 2,
        "results_schema": RESULTS,
        "processor": "aggregate",
        **overrides,
    }


def truth(mysql_root: Any, table: str) -> dict[str, tuple[Decimal, int]]:
    cur = mysql_root(DB).cursor()
    cur.execute(f"SELECT g, COALESCE(SUM(v), 0), COUNT(*) FROM {table} GROUP BY g")
    return {str(g): (Decimal(s), n) for g, s, n in cur.fetchall()}


def stored(mysql_root: Any, run_key: str) -> tuple[dict[str, tuple[Decimal, int]], list[tuple[int, int, int, str]]]:
    cur = mysql_root(RESULTS).cursor()
    cur.execute("SELECT group_key, value_sum, row_count FROM bulkscan_result WHERE run_key = %s", (run_key,))
    result = {g: (Decimal(s), n) for g, s, n in cur.fetchall()}
    cur.execute(
        "SELECT lo, hi, rows_scanned, label FROM bulkscan_chunk WHERE run_key = %s ORDER BY chunk_index", (run_key,)
    )
    return result, [(int(lo), int(hi), n, label) for lo, hi, n, label in cur.fetchall()]


@pytest.mark.parametrize(("name", "unsigned"), TYPES, ids=[table_name(*t) for t in TYPES])
def test_every_integer_type_from_its_minimum_to_its_maximum(source: Any, dag: Any, name: str, unsigned: bool) -> None:
    table = table_name(name, unsigned)
    dr = dag.test(run_conf=conf(table))
    assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
    run_key = f"{dag.dag_id}/{dr.run_id}"
    result, chunks = stored(source, run_key)
    assert result == truth(source, table)
    keys = keys_of(name, unsigned)
    lo, hi = key_range(name, unsigned)
    # the chunks tile [min, max + 1): the last chunk's exclusive end is one past the type's maximum
    assert chunks[0][0] == lo and chunks[-1][1] == hi + 1
    assert all(a[1] == b[0] for a, b in itertools.pairwise(chunks))
    assert [n for _, _, n, _ in chunks] == [sum(1 for k in keys if a <= k < b) for a, b, _, _ in chunks]
    labels = {m: v[2] for (t, m), v in ti_table(dag.dag_id, dr.run_id).items() if t == "scan_chunk"}
    assert labels[len(chunks) - 1] == chunks[-1][3] == f"ids {chunks[-1][0]:,}-{hi:,}"


@pytest.mark.parametrize("unsigned", [False, True], ids=["signed", "unsigned"])
def test_rows_mode_and_filtered_plans_reach_both_ends_of_bigint(source: Any, dag: Any, unsigned: bool) -> None:
    """The keyset rows path (count processor) and the COUNT(*)-first plan of a filtered scan."""
    table = table_name("bigint", unsigned)
    dr = dag.test(run_conf=conf(table, processor="count", filters=[["v", "is not null"]]))
    assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
    _, chunks = stored(source, f"{dag.dag_id}/{dr.run_id}")
    cur = source(DB).cursor()
    cur.execute(f"SELECT MIN(id), MAX(id), COUNT(*) FROM {table} WHERE v IS NOT NULL")
    first, last, count = cur.fetchone()
    assert sum(n for _, _, n, _ in chunks) == count
    assert chunks[0][0] == first and chunks[-1][1] == last + 1
