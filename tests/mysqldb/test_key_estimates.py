"""A composite key planned from range estimates, against real MariaDB (bulkscan.mysqldb.keyestimate).

A million rows keyed by (shop_id, id), shop 17 holding a third of them: the plan must tile the key
space exactly (checked by the server's own counts), stay balanced with the hot shop split on `id`,
and read far less of the table than the walk does (the server's handler counters say how much each
read). Keys estimates cannot split fall back to the walk.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from bulkscan.core.tablespec import Filter
from bulkscan.mysqldb.keyestimate import plan_tuple_key
from bulkscan.mysqldb.planner import count_key_range
from bulkscan.mysqldb.source import TableSpec, resolve_table

pytestmark = pytest.mark.integration
DB = "bs_key_estimates"
ROWS = 1_000_000
HOT = 17


@pytest.fixture(scope="module")
def conn(mysql_root: Any) -> Any:
    cur = mysql_root().cursor()
    cur.execute(f"DROP DATABASE IF EXISTS {DB}")
    cur.execute(f"CREATE DATABASE {DB}")
    cur.execute(f"USE {DB}")
    shop = f"IF(seq % 3 = 0, {HOT}, 1 + seq % 997)"
    cur.execute(
        "CREATE TABLE orders (shop_id INT NOT NULL, id BIGINT NOT NULL, amount INT NOT NULL, PRIMARY KEY (shop_id, id))"
    )
    cur.execute(f"INSERT INTO orders SELECT {shop}, seq, seq % 100 FROM seq_1_to_{ROWS} ORDER BY {shop}, seq")
    # the same rows keyed by (shop_id, code): the hot shop cannot be split by estimates on a string
    cur.execute(
        "CREATE TABLE coded (shop_id INT NOT NULL, code VARCHAR(20) NOT NULL, amount INT NOT NULL,"
        " PRIMARY KEY (shop_id, code))"
    )
    cur.execute("INSERT INTO coded SELECT shop_id, CONCAT('c', id), amount FROM orders WHERE shop_id <= 40")
    cur.execute("ANALYZE TABLE orders, coded")
    cur.fetchall()
    c = mysql_root(DB)
    yield c
    c.close()
    mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {DB}")


def handler_reads(conn: Any) -> int:
    cur = conn.cursor()
    cur.execute("SHOW SESSION STATUS LIKE 'Handler_read%'")
    return sum(int(v) for _, v in cur.fetchall())


def spec_of(conn: Any, table: str, key: str, filters: list[Filter] | None = None) -> TableSpec:
    return resolve_table(conn, DB, table, key, ("amount",), filters or ())


def test_estimated_chunks_tile_the_key_space_balanced_without_reading_the_table(conn: Any) -> None:
    spec = spec_of(conn, "orders", "shop_id, id")
    before = handler_reads(conn)
    plan = plan_tuple_key(conn, spec, 50_000, 1024, "estimate")
    estimated_reads = handler_reads(conn) - before
    walk = plan_tuple_key(conn, spec, 50_000, 1024, "walk")
    walked_reads = handler_reads(conn) - before - estimated_reads
    assert plan.planning == "estimate" and walk.planning == "walk"

    chunks = plan.chunks
    cur = conn.cursor()
    cur.execute("SELECT shop_id, id FROM orders ORDER BY shop_id, id LIMIT 1")
    first = tuple(cur.fetchone())
    cur.execute("SELECT shop_id, id FROM orders ORDER BY shop_id DESC, id DESC LIMIT 1")
    last = tuple(cur.fetchone())
    # tiling: each chunk starts where the one before ends, from the first key to the last
    assert chunks[0].lo == first and chunks[-1].hi is None and chunks[-1].last == last
    for a, b in itertools.pairwise(chunks):
        assert a.hi == b.lo and a.lo < b.lo
    exact = [count_key_range(conn, spec, c) for c in chunks]
    assert sum(exact) == ROWS  # every row in exactly one chunk (half-open ranges that meet)
    assert all(exact)
    mean = sum(exact) / len(exact)
    assert max(exact) / mean <= 1.25, exact
    assert abs(len(chunks) - ROWS / 50_000) <= 2
    assert len([c for c in chunks if c.lo[0] == HOT]) >= 5, "the hot shop is planned again on id"
    # the estimates are close to the real counts, so time limits and the summary's rows are near
    assert all(0.7 <= (c.rows or 0) / n <= 1.3 for c, n in zip(chunks, exact, strict=True)), [
        (c.rows, n) for c, n in zip(chunks, exact, strict=True)
    ]
    # the walk reads every index entry; the estimated plan reads its calibration counts only (a few
    # ranges of at most 50,000 rows per level planned, however big the table)
    assert walked_reads >= ROWS
    assert estimated_reads <= ROWS // 5, estimated_reads


def test_max_chunks_binds_the_estimated_plan_too(conn: Any) -> None:
    """Eight chunks at most for what would be a hundred: the hot shop still split on id. Here the level
    is planned again in fewer chunks to make room for the hot shop's, so the two kinds of chunk can
    differ by up to half a chunk (a looser balance than the unbound plan's 1.25)."""
    spec = spec_of(conn, "orders", "shop_id, id")
    plan = plan_tuple_key(conn, spec, 10_000, 8, "estimate")
    assert plan.planning == "estimate" and 6 <= len(plan.chunks) <= 8
    exact = [count_key_range(conn, spec, c) for c in plan.chunks]
    assert sum(exact) == ROWS and max(exact) / (ROWS / len(exact)) <= 1.5, exact
    assert len([c for c in plan.chunks if c.lo[0] == HOT]) >= 2


@pytest.mark.parametrize(
    ("table", "key", "filters"),
    [
        ("coded", "shop_id, code", None),  # the hot shop's next column is a string
        ("orders", "shop_id, id", [Filter("shop_id", ">=", 5)]),  # an estimate says nothing about a filter
    ],
)
def test_keys_estimates_cannot_plan_are_walked(conn: Any, table: str, key: str, filters: Any) -> None:
    spec = spec_of(conn, table, key, filters)
    plan = plan_tuple_key(conn, spec, 20_000, 1024, "estimate")
    assert plan.planning == "walk"
    where, params = spec.where()
    cur = conn.cursor()
    cur.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", params)
    total = cur.fetchone()[0]
    exact = [count_key_range(conn, spec, c) for c in plan.chunks]
    assert exact == [c.rows for c in plan.chunks] and sum(exact) == total
