"""Composite and string keys through whole `bulkscan_table_scan` runs on real MariaDB.

A table keyed by (shop_id, id) with one hot shop holding a third of the rows, and a table keyed by a
string in a case-insensitive collation, are chunked in their index's own order, balanced, scanned
exactly, and compared with a plain GROUP BY; keys that cannot be chunked are refused before anything
is written.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import string
from decimal import Decimal
from typing import Any

import pytest

from bulkscan.errors import BulkscanInputError
from bulkscan.jobs.table_scan import tasks as ts
from bulkscan.mysqldb.connect import direct
from bulkscan.mysqldb.results import ResultStore
from tests.airflow_helpers import load_dag, ti_table
from tests.conftest import MYSQL_HOST, MYSQL_PORT

pytestmark = [pytest.mark.integration, pytest.mark.dagrun]
DB = "bs_tuplekeys"
RESULTS = "bs_tuplekeys_results"
CONN = "bs_tuplekeys"
HOT_SHOP = 17


@pytest.fixture(scope="module")
def source(mysql_root: Any) -> Any:
    os.environ[f"AIRFLOW_CONN_{CONN.upper()}"] = f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{DB}"
    cur = mysql_root().cursor()
    for db in (DB, RESULTS):
        cur.execute(f"DROP DATABASE IF EXISTS {db}")
    cur.execute(f"CREATE DATABASE {DB}")
    cur.execute(f"USE {DB}")
    rng = random.Random(7)
    # (shop_id, id): shop 17 holds 20,025 of 60,000 rows; ids restart per shop and have gaps
    cur.execute(
        "CREATE TABLE orders (shop_id INT NOT NULL, id BIGINT NOT NULL, user_id INT, amount INT NULL,"
        " PRIMARY KEY (shop_id, id))"
    )
    rows = [(HOT_SHOP, i * 3, rng.randrange(50), rng.randrange(1000)) for i in range(20_025)]
    for shop in range(1, 41):
        if shop != HOT_SHOP:
            rows += [
                (shop, i * 7 + 1, rng.randrange(50), rng.choice([None, rng.randrange(1000)])) for i in range(1_025)
            ]
    cur.executemany("INSERT INTO orders VALUES (%s, %s, %s, %s)", rows)
    # a string key in a case-insensitive collation: 'apple' and 'Apple' are one value to the server
    cur.execute(
        "CREATE TABLE skus (sku VARCHAR(32) COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, user_id INT, amount INT)"
    )
    words: dict[str, str] = {}
    while len(words) < 12_000:
        w = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9)))
        words.setdefault(w, "".join(ch.upper() if rng.random() < 0.4 else ch for ch in w))
    cur.executemany(
        "INSERT INTO skus VALUES (%s, %s, %s)", [(w, rng.randrange(50), rng.randrange(100)) for w in words.values()]
    )
    # keys that cannot be chunked
    cur.execute(
        "CREATE TABLE plain (id INT NOT NULL PRIMARY KEY, name VARCHAR(20), born DATETIME NOT NULL, KEY (name))"
    )
    cur.execute("CREATE TABLE nullable_uk (id INT PRIMARY KEY, code VARCHAR(10) NULL, UNIQUE KEY uk_code (code))")
    cur.execute("CREATE TABLE heap (a INT, b INT)")
    # The results schema from the start, so a test that expects no rows there also runs on its own.
    ResultStore(direct(MYSQL_HOST, MYSQL_PORT), RESULTS).ensure()
    yield mysql_root
    for db in (DB, RESULTS):
        mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {db}")


@pytest.fixture(scope="module")
def dag() -> Any:
    return load_dag("bulkscan_table_scan")


def conf(**overrides: Any) -> dict[str, Any]:
    return {
        "conn_id": CONN,
        "table": "orders",
        "key_column": "shop_id, id",
        "group_column": "user_id",
        "value_column": "amount",
        "rows_per_chunk": 5_000,
        "max_chunks": 64,
        "max_parallel_chunks": 2,
        "results_schema": RESULTS,
        "processor": "aggregate",
        **overrides,
    }


def truth(mysql_root: Any, table: str) -> dict[str, tuple[Decimal, int]]:
    cur = mysql_root(DB).cursor()
    cur.execute(f"SELECT user_id, COALESCE(SUM(amount), 0), COUNT(*) FROM {table} GROUP BY user_id")
    return {str(g): (Decimal(s), n) for g, s, n in cur.fetchall()}


def stored(mysql_root: Any, run_key: str) -> tuple[dict[str, tuple[Decimal, int]], list[dict[str, Any]]]:
    cur = mysql_root(RESULTS).cursor()
    cur.execute("SELECT group_key, value_sum, row_count FROM bulkscan_result WHERE run_key = %s", (run_key,))
    result = {g: (Decimal(s), n) for g, s, n in cur.fetchall()}
    cur.execute(
        "SELECT lo_key, hi_key, label, rows_scanned FROM bulkscan_chunk WHERE run_key = %s ORDER BY chunk_index",
        (run_key,),
    )
    chunks = [{"lo": json.loads(a), "hi": json.loads(b), "label": c, "rows": n} for a, b, c, n in cur.fetchall()]
    return result, chunks


def skew(chunks: list[dict[str, Any]]) -> float:
    sizes = [c["rows"] for c in chunks]
    return max(sizes) / (sum(sizes) / len(sizes))


@pytest.mark.parametrize("planning", ["estimate", "walk"])
def test_composite_key_with_a_hot_shop_splits_into_balanced_exact_chunks(source: Any, dag: Any, planning: str) -> None:
    """Planned from range estimates (the default: the hot shop planned again on `id`), or by walking
    the index (exactly 60,000 / 5,000 chunks); either way balanced, tiling, and exact."""
    dr = dag.test(run_conf=conf(planning=planning))
    assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
    run_key = f"{dag.dag_id}/{dr.run_id}"
    result, chunks = stored(source, run_key)
    assert result == truth(source, "orders")
    assert sum(c["rows"] for c in chunks) == 60_000
    assert len(chunks) == 12 if planning == "walk" else 11 <= len(chunks) <= 13
    assert skew(chunks) <= 1.25
    hot = [c for c in chunks if c["lo"][0] == HOT_SHOP]
    assert len(hot) >= 3, "the hot shop is split across chunks, not one giant chunk"
    # tuple ranges tile: each chunk ends where the next begins; the last is closed on the table's last key
    for a, b in itertools.pairwise(chunks):
        assert a["hi"] == {"<": b["lo"]}
    assert chunks[-1]["hi"] == {"<=": [40, 1024 * 7 + 1]}
    labels = {m: v[2] for (t, m), v in ti_table(dag.dag_id, dr.run_id).items() if t == "scan_chunk"}
    assert labels[0] == chunks[0]["label"]
    assert re.fullmatch(r"shop \d+ id [\d,]+ - shop \d+ id [\d,]+", labels[5])


def test_composite_key_rows_mode_sees_every_row_once(source: Any, dag: Any) -> None:
    dr = dag.test(run_conf=conf(processor="count", rows_per_chunk=7_000, batch_seconds=0.05))
    assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
    _, chunks = stored(source, f"{dag.dag_id}/{dr.run_id}")
    assert sum(c["rows"] for c in chunks) == 60_000  # summarize also reconciled each chunk's count


def test_case_insensitive_string_key_is_chunked_in_collation_order(source: Any, dag: Any) -> None:
    dr = dag.test(run_conf=conf(table="skus", key_column="sku", rows_per_chunk=1_000))
    assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
    run_key = f"{dag.dag_id}/{dr.run_id}"
    result, chunks = stored(source, run_key)
    assert result == truth(source, "skus")
    assert len(chunks) == 12 and skew(chunks) <= 1.25
    starts = [c["lo"][0] for c in chunks]
    assert starts == sorted(starts, key=str.lower)  # the server's (case-insensitive) order
    assert starts != sorted(starts), "binary order differs here: Python must not have sorted the keys"
    # every chunk's range, counted by the server, holds exactly what was scanned
    cur = source(DB).cursor()
    for c in chunks:
        hi_op, hi = next(iter(c["hi"].items()))
        cur.execute(f"SELECT COUNT(*) FROM skus WHERE sku >= %s AND sku {hi_op} %s", (c["lo"][0], hi[0]))
        assert cur.fetchone()[0] == c["rows"]


def test_string_key_rows_mode(source: Any, dag: Any) -> None:
    dr = dag.test(run_conf=conf(table="skus", key_column="sku", processor="count", rows_per_chunk=2_500))
    assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
    _, chunks = stored(source, f"{dag.dag_id}/{dr.run_id}")
    assert sum(c["rows"] for c in chunks) == 12_000


def test_empty_key_means_the_primary_key(source: Any) -> None:
    p = {**conf(key_column=""), "database": None, "results_conn_id": None, "processor_args": {}, "filters": []}
    chunks = ts.plan(p, 1024)
    assert chunks[0]["columns"] == ["shop_id", "id"]  # type: ignore[typeddict-item]


@pytest.mark.parametrize(
    ("table", "key", "needle"),
    [
        ("plain", "name", r"cannot be chunked on \(name\).*Unique NOT NULL indexes: PRIMARY \(id\)"),
        ("plain", "id, name", r"cannot be chunked on \(id, name\)"),
        ("orders", "id, shop_id", r"cannot be chunked on \(id, shop_id\).*PRIMARY \(shop_id, id\)"),
        ("plain", "born", r"key column bs_tuplekeys\.plain\.born is datetime"),
        ("nullable_uk", "code", r"cannot be chunked on \(code\).*indexes: PRIMARY \(id\)$"),
        ("heap", "", r"table bs_tuplekeys\.heap has no primary key"),
        ("orders", "shop_id, nope", r"unknown key column 'nope' in bs_tuplekeys\.orders"),
    ],
)
def test_keys_that_cannot_be_chunked_are_refused_naming_table_and_need(
    source: Any, table: str, key: str, needle: str
) -> None:
    p = {**conf(table=table, key_column=key), "database": None, "results_conn_id": None}
    p.update(processor="count", processor_args={}, filters=[])
    with pytest.raises(BulkscanInputError, match=needle):
        ts.plan.__wrapped__(p, 1024)  # type: ignore[attr-defined]  # the plan body, before Airflow's wrapper


@pytest.mark.parametrize(("table", "key"), [("orders", "shop_id, id"), ("skus", "sku")])
def test_arrow_batches_on_a_composite_or_string_key_are_refused_in_plan_before_any_write(
    source: Any, table: str, key: str
) -> None:
    """Arrow batches read sub-ranges of one integer key: the plan refuses them on any other key, naming the
    table and its key, before the results schema exists (every chunk used to fail in its scan instead)."""
    fresh = "bs_tuplekeys_arrow_refused"
    p = {**conf(table=table, key_column=key), "database": None, "results_conn_id": None, "results_schema": fresh}
    p.update(processor="bulkscan.core.processors:arrow_aggregate", filters=[])
    p.update(processor_args={"group": "user_id", "value": "amount"})
    needle = rf"Arrow batches read sub-ranges of a single integer key; {DB}\.{table} is keyed by \({key}\)"
    with pytest.raises(BulkscanInputError, match=needle):
        ts.plan.__wrapped__(p, 1024)  # type: ignore[attr-defined]  # the plan body, before Airflow's wrapper
    cur = source().cursor()
    cur.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (fresh,))
    assert cur.fetchone()[0] == 0


def test_a_refused_key_fails_the_plan_before_any_write(source: Any, dag: Any) -> None:
    dr = dag.test(run_conf=conf(table="plain", key_column="name", group_column="", value_column="id"))
    tis = ti_table(dag.dag_id, dr.run_id)
    assert str(dr.state) == "failed" and tis[("plan", -1)][0] == "failed" and tis[("plan", -1)][1] == 1
    cur = source(RESULTS).cursor()
    cur.execute("SELECT COUNT(*) FROM bulkscan_chunk WHERE run_key = %s", (f"{dag.dag_id}/{dr.run_id}",))
    assert cur.fetchone()[0] == 0


@pytest.mark.parametrize(("table", "key"), [("orders", "shop_id, id"), ("skus", "sku")])
def test_small_keyset_batches_and_pushed_down_sub_ranges_see_every_row_once(source: Any, table: str, key: str) -> None:
    """Many batches per chunk: rows mode in 500-row keyset batches, and the pushed-down aggregate in
    700-row sub-ranges found by walking the index, against the server's own ordered list of keys."""
    from bulkscan.core.batching import AdaptiveBatch
    from bulkscan.core.processors import AggregateByKey, ChunkContext, Processor
    from bulkscan.mysqldb.planner import plan_keys
    from bulkscan.mysqldb.scanner import scan_chunk
    from bulkscan.mysqldb.source import resolve_table

    class Keys(Processor):
        columns = ()

        def __init__(self) -> None:
            self.seen: list[tuple[Any, ...]] = []

        def process(self, rows: Any, columns: tuple[str, ...]) -> None:
            n = len(key.split(","))
            self.seen += [tuple(r[:n]) for r in rows]

    connect = direct(MYSQL_HOST, MYSQL_PORT, database=DB)
    conn = connect()
    spec = resolve_table(conn, DB, table, key, ("user_id", "amount"))
    chunks = plan_keys(conn, spec, 4_000, 64)
    cur = conn.cursor()
    cur.execute(f"SELECT {key} FROM {table} ORDER BY {key}")
    everything = [tuple(r) for r in cur.fetchall()]
    seen: list[tuple[Any, ...]] = []
    groups: dict[Any, list[Any]] = {}
    for chunk in chunks:
        rows_proc = Keys()
        stats = scan_chunk(connect, spec, rows_proc, ChunkContext("t", chunk), batch=AdaptiveBatch(500, 0.5, 500, 500))
        assert stats.batches >= chunk.rows // 500  # type: ignore[operator]
        seen += rows_proc.seen
        agg = AggregateByKey("user_id", "amount")
        stats = scan_chunk(connect, spec, agg, ChunkContext("t", chunk), batch=AdaptiveBatch(700, 0.5, 700, 700))
        assert stats.rows == chunk.rows and stats.batches >= 2
        for g, (s, n) in agg.groups.items():
            acc = groups.setdefault(str(g), [Decimal(0), 0])
            acc[0] += s
            acc[1] += n
    assert seen == everything  # every row once, in the server's order
    assert {g: (Decimal(s), n) for g, (s, n) in groups.items()} == truth(source, table)
