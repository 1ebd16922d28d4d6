"""bulkscan's own schema is versioned (Alembic): a deployment made by an earlier release is migrated
in place, its data kept, and only then can it hold the bounds of every integer key."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import MySQLdb
import pytest

from bulkscan.core.chunks import KEY_END, KEY_MIN, Chunk
from bulkscan.core.sqlfiles import Fragment, statements
from bulkscan.mysqldb import migrations
from bulkscan.mysqldb.connect import direct
from bulkscan.mysqldb.results import ChunkOutcome, ResultStore
from tests.conftest import MYSQL_HOST, MYSQL_PORT

pytestmark = pytest.mark.integration
SCHEMA = "bs_migrate_results"


@pytest.fixture
def old_schema(mysql_root: Any) -> Iterator[Any]:
    """A results schema exactly as the first release created it: revision 0001's tables, no version table."""
    cur = mysql_root().cursor()
    cur.execute(f"DROP DATABASE IF EXISTS {SCHEMA}")
    cur.execute(f"CREATE DATABASE {SCHEMA}")
    for stmt in statements("results/schema_0001", schema=Fragment(f"`{SCHEMA}`")):
        cur.execute(stmt)
    cur.execute(
        f"INSERT INTO {SCHEMA}.bulkscan_chunk (run_key, chunk_index, job, source, lo, hi, planned_rows, rows_scanned,"
        " groups_count, try_number, seconds) VALUES ('old/run', 0, 'table_scan', 'c:t', -5, 1000, 10, 10, 2, 1, 0.5)"
    )
    cur.execute(f"INSERT INTO {SCHEMA}.bulkscan_result VALUES ('old/run', 'g1', 12.5, 7), ('old/run', 'g2', 3, 3)")
    yield mysql_root
    mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {SCHEMA}")


def column_types(mysql_root: Any) -> dict[str, str]:
    cur = mysql_root().cursor()
    cur.execute(
        "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (SCHEMA, "bulkscan_chunk"),
    )
    return dict(cur.fetchall())


def outcome() -> ChunkOutcome:
    return ChunkOutcome("table_scan", "c:t", rows=3, seconds=0.1, try_number=1, groups={"g": [Decimal(1), 3]})


def test_old_schema_cannot_hold_the_end_of_an_unsigned_bigint_key(old_schema: Any) -> None:
    """The bug the revision fixes, shown on the old tables: the last chunk's exclusive end is 2^64."""
    cur = old_schema().cursor()
    with pytest.raises(MySQLdb.DataError, match="Out of range value for column 'hi'"):
        cur.execute(
            f"UPDATE {SCHEMA}.bulkscan_chunk SET hi = %s WHERE run_key = 'old/run'",
            (KEY_END,),
        )


def test_upgrade_from_the_first_release_keeps_the_data_and_widens_the_bounds(old_schema: Any) -> None:
    connect = direct(MYSQL_HOST, MYSQL_PORT)
    assert migrations.current(connect, SCHEMA) is None  # not versioned yet
    store = ResultStore(connect, SCHEMA)
    store.ensure()  # what every plan calls: the documented upgrade, applied by plan
    assert migrations.current(connect, SCHEMA) == migrations.head()
    types = column_types(old_schema)
    assert types["lo"] == types["hi"] == "decimal(20,0)"
    assert {"lo_key", "hi_key", "label"} <= set(types)
    # the old rows are all there, unchanged
    assert store.result("old/run") == {"g1": (Decimal("12.500000"), 7), "g2": (Decimal("3.000000"), 3)}
    (old,) = store.chunks("old/run")
    assert (old["lo"], old["hi"], old["rows_scanned"], old["label"]) == (-5, 1000, 10, None)
    # and both extremes of every integer key now fit
    store.replace_chunk("new/run", Chunk(0, KEY_MIN, KEY_END, 3), outcome())
    (new,) = store.chunks("new/run")
    assert (int(new["lo"]), int(new["hi"])) == (-(2**63), 2**64)
    assert new["label"] == Chunk(0, KEY_MIN, KEY_END).label
    store.ensure()  # a second plan finds the head revision and changes nothing
    assert len(store.chunks("new/run")) == 1


def test_downgrade_returns_to_the_first_release_with_its_data(old_schema: Any) -> None:
    connect = direct(MYSQL_HOST, MYSQL_PORT)
    migrations.upgrade(connect, SCHEMA)
    migrations.downgrade(connect, SCHEMA, "0001")
    assert migrations.current(connect, SCHEMA) == "0001"
    types = column_types(old_schema)
    assert types["lo"] == "bigint(20)" and "label" not in types
    assert ResultStore(connect, SCHEMA).result("old/run")["g1"] == (Decimal("12.500000"), 7)
    migrations.upgrade(connect, SCHEMA)
    assert migrations.current(connect, SCHEMA) == migrations.head()


def test_a_fresh_schema_is_created_at_the_head_revision(mysql_root: Any) -> None:
    mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {SCHEMA}")
    connect = direct(MYSQL_HOST, MYSQL_PORT)
    try:
        assert migrations.upgrade(connect, SCHEMA) == migrations.head()
        assert column_types(mysql_root)["hi"] == "decimal(20,0)"
    finally:
        mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {SCHEMA}")


def test_the_documented_command_upgrades_an_old_schema(old_schema: Any) -> None:
    """`python -m bulkscan.ops.migrate` as docs/table-scan.md shows it, through an Airflow connection."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "AIRFLOW_CONN_BS_MIGRATE": f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}"}
    cmd = [sys.executable, "-m", "bulkscan.ops.migrate", "--conn-id", "bs_migrate", "--schema", SCHEMA]
    out = subprocess.run([*cmd, "--current"], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"{SCHEMA}: revision none (head {migrations.head()})"
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"{SCHEMA}: revision none -> {migrations.head()}"
    assert column_types(old_schema)["hi"] == "decimal(20,0)"
    assert ResultStore(direct(MYSQL_HOST, MYSQL_PORT), SCHEMA).result("old/run")["g2"] == (Decimal("3.000000"), 3)
    bad = subprocess.run([*cmd[:-1], "bad schema"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "bad results schema" in bad.stderr


def partial_indexes(mysql_root: Any) -> set[str]:
    cur = mysql_root().cursor()
    cur.execute(
        "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (SCHEMA, "bulkscan_partial"),
    )
    return {r[0] for r in cur.fetchall()}


def test_the_merge_reads_the_partial_sums_in_group_order_and_adds_them_up_exactly(old_schema: Any) -> None:
    """Revision 0003 indexes the partial sums by (run, group), and the merge reads them through it: no
    temporary table (which spilled to disk once the groups outgrew tmp_table_size). Its sums equal the
    ones Python adds up from the stored partial rows, and another run's partials are left out."""
    connect = direct(MYSQL_HOST, MYSQL_PORT)
    store = ResultStore(connect, SCHEMA)
    store.ensure()
    assert "by_group" in partial_indexes(old_schema)
    cur = old_schema().cursor()
    rows = [
        (run, c, f"g{g}", Decimal(g * 7 + c) / 4, g + c)
        for run in ("r/merge", "r/other")
        for c in range(3)
        for g in range(500)
        if (g + c) % 4
    ]
    cur.executemany(f"INSERT INTO {SCHEMA}.bulkscan_partial VALUES (%s, %s, %s, %s, %s)", rows)
    cur.execute("EXPLAIN " + store.sql("result_merge"), ("r/merge", "r/merge"))  # the merge's own statement
    plan = {r[2]: r[-1] or "" for r in cur.fetchall()}
    assert "temporary" not in plan["bulkscan_partial"] and "filesort" not in plan["bulkscan_partial"], plan
    expected: dict[str, list[Any]] = {}
    for run, _, g, s, n in rows:
        if run == "r/merge":
            acc = expected.setdefault(g, [Decimal(0), 0])
            acc[0] += s
            acc[1] += n
    merged = store.merge("r/merge", job="table_scan", source="c:t", chunks=3, rows=0)
    assert merged.groups == len(expected)
    assert store.result("r/merge") == {g: (s, n) for g, (s, n) in expected.items()}


def test_downgrade_to_0002_drops_the_group_index_and_upgrade_brings_it_back(old_schema: Any) -> None:
    connect = direct(MYSQL_HOST, MYSQL_PORT)
    migrations.upgrade(connect, SCHEMA)
    migrations.downgrade(connect, SCHEMA, "0002")
    assert migrations.current(connect, SCHEMA) == "0002"
    assert "by_group" not in partial_indexes(old_schema)
    migrations.upgrade(connect, SCHEMA)
    assert "by_group" in partial_indexes(old_schema)
