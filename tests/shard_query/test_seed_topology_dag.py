"""The user's fleet described exactly as seed 001 writes it, and tables discovered by pattern, through
real `bulkscan_shard_query` runs over two loopback MariaDB servers.

The eight hosts of the seed are Airflow connection ids spelled as the seed's IPs; hosts 1, 3, 5, 7
live on the first server (tables padded, `table_096`) and 2, 4, 6, 8 on the second (tables as the
seed script itself names them, `'{}_{}'.format(prefix, n)`: `table_16`). Ground truth is computed
from the generated rows in Python.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from bulkscan.errors import BulkscanError, ReconcileError
from bulkscan.jobs.shard_query import tasks as st
from tests.airflow_helpers import load_dag, ti_table
from tests.shard_query.conftest import PORT_A, RESULTS, as_ints, connect
from tests.shard_query.test_topology import SEED_TBLES

pytestmark = [pytest.mark.integration, pytest.mark.dagrun]
DB = "bs_seed_fleet"
FOUND = "bs_found"  # one database per server for the discovery runs
os.environ["AIRFLOW_CONN_BS_SEED_RESULTS"] = f"mysql://root@127.0.0.1:{PORT_A}"


def spelled(n: int, host_number: int) -> str:
    return f"table_{n:03d}" if host_number % 2 else f"table_{n}"


def rows_of(n: int) -> list[tuple[int, str, int]]:
    return [(n * 1_000 + i, f"g{(n + i) % 5}", n + i) for i in range(5 + n % 7)]


def _load(port: int, db: str, tables: dict[str, list[tuple[int, str, int]]]) -> None:
    cur = connect(port).cursor()
    cur.execute(f"DROP DATABASE IF EXISTS {db}")
    cur.execute(f"CREATE DATABASE {db}")
    for name, rows in tables.items():
        cur.execute(f"CREATE TABLE {db}.{name} (id BIGINT PRIMARY KEY, grp VARCHAR(8) NOT NULL, amount INT NOT NULL)")
        cur.executemany(f"INSERT INTO {db}.{name} VALUES (%s, %s, %s)", rows)


def truth(tables: dict[str, list[tuple[int, str, int]]]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for rows in tables.values():
        for _, g, a in rows:
            s, n = out.get(g, (0, 0))
            out[g] = (s + a, n + 1)
    return out


@pytest.fixture(scope="module")
def fleet(second_host: int) -> Iterator[dict[int, dict[str, list[tuple[int, str, int]]]]]:
    """{port: {table: rows}} for the seed's 128 tables, and a conn id per seed host."""
    servers: dict[int, dict[str, list[tuple[int, str, int]]]] = {PORT_A: {}, second_host: {}}
    for h, conn_id in enumerate(SEED_TBLES, start=1):
        port = PORT_A if h % 2 else second_host
        os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = f"mysql://root@127.0.0.1:{port}/{DB}"
        for n in range((h - 1) * 16, h * 16):
            servers[port][spelled(n, h)] = rows_of(n)
    for port, tables in servers.items():
        _load(port, DB, tables)
    yield servers
    for port in servers:
        connect(port).cursor().execute(f"DROP DATABASE IF EXISTS {DB}")


@pytest.fixture(scope="module")
def dag() -> Any:
    return load_dag("bulkscan_shard_query")


def conf(topology: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "topology": topology,
        "key_column": "id",
        "group_column": "grp",
        "value_column": "amount",
        "tables_per_task": 16,
        "rows_per_chunk": 100_000,
        "max_queries_per_host": 2,
        "results_conn_id": "bs_seed_results",
        "results_schema": RESULTS,
        **overrides,
    }


def test_the_seed_fleet_as_written_answers_128_tables_once_each(dag: Any, fleet: Any, results_store: Any) -> None:
    topology = {"database": DB, "hosts": SEED_TBLES}  # exactly the seed's dict, '096-0111' and all
    dr = dag.test(run_conf=conf(topology))
    assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
    run_key = f"{dag.dag_id}/{dr.run_id}"
    stored = results_store.chunks(run_key)
    sources = sorted(c["source"] for c in stored)
    assert len(stored) == len(set(sources)) == 128  # none missed, none doubled
    everything = {t: r for tables in fleet.values() for t, r in tables.items()}
    assert as_ints(results_store.result(run_key)) == truth(everything)
    assert sum(int(c["rows_scanned"]) for c in stored) == sum(len(r) for r in everything.values())


@pytest.fixture
def found(second_host: int) -> Iterator[dict[str, Any]]:
    """Two hosts whose tables are found by pattern: orders_1..orders_12 on A, orders_13..orders_20 on B."""
    a = {f"orders_{n}": rows_of(n) for n in range(1, 13)}
    b = {f"orders_{n}": rows_of(n) for n in range(13, 21)}
    _load(PORT_A, FOUND, {**a, "orders_archive_x": rows_of(99)})
    _load(second_host, FOUND, b)
    os.environ["AIRFLOW_CONN_BS_FOUND_A"] = f"mysql://root@127.0.0.1:{PORT_A}/{FOUND}"
    os.environ["AIRFLOW_CONN_BS_FOUND_B"] = f"mysql://root@127.0.0.1:{second_host}/{FOUND}"
    topology = {
        "database": FOUND,
        "hosts": {
            "bs_found_a": {"tables": {"regex": "^orders_[0-9]+$"}},
            "bs_found_b": {"tables": {"like": "orders\\_%"}},
        },
    }
    yield {"topology": topology, "tables": {**a, **b}, "ports": (PORT_A, second_host)}
    for port in (PORT_A, second_host):
        connect(port).cursor().execute(f"DROP DATABASE IF EXISTS {FOUND}")


def test_discovered_tables_are_planned_recorded_and_reconciled(dag: Any, found: Any, results_store: Any) -> None:
    dr = dag.test(run_conf=conf(found["topology"], tables_per_task=4))
    assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
    run_key = f"{dag.dag_id}/{dr.run_id}"
    stored = results_store.chunks(run_key)
    assert len(stored) == 20  # orders_archive_x does not match the regex
    assert as_ints(results_store.result(run_key)) == truth(found["tables"])


def params(topology: Any) -> dict[str, Any]:
    return {**conf(topology), "processor": "aggregate", "filters": [], "query_file": None, "query_params": {}}


def test_a_table_appearing_after_the_plan_is_named_by_summarize(found: Any) -> None:
    p = params(found["topology"])
    units = st.plan(p, 1024)
    results = [st.scan(u, p, "test/appear", 1) for u in units]
    cur = connect(found["ports"][1]).cursor()
    cur.execute(f"CREATE TABLE {FOUND}.orders_21 (id BIGINT PRIMARY KEY, grp VARCHAR(8), amount INT)")
    with pytest.raises(ReconcileError, match=r"not planned \(appeared after the plan\?\): bs_found_b / orders_21"):
        st.summarize(units, results, p, "test/appear")


def test_a_table_vanishing_after_the_plan_fails_its_scan_by_name(found: Any) -> None:
    p = params(found["topology"])
    units = st.plan(p, 1024)
    connect(found["ports"][0]).cursor().execute(f"DROP TABLE {FOUND}.orders_3")
    victim = next(u for u in units if any(i["table"] == "orders_3" for i in u["items"]))
    with pytest.raises(BulkscanError, match=r"bs_found_a.*orders_3.*doesn't exist"):
        st.scan(victim, p, "test/vanish", 1)


@pytest.fixture
def extremes(second_host: int) -> Iterator[dict[str, Any]]:
    """Shards whose ids sit at both ends of BIGINT and BIGINT UNSIGNED, big enough to be chunked."""
    db = "bs_shard_ext"
    tables = {
        "ext_0": ("BIGINT", -(2**63)),  # the signed minimum and up
        "ext_1": ("BIGINT UNSIGNED", 2**64 - 30_000),  # up to the unsigned maximum
    }
    rows: dict[str, list[tuple[int, str, int]]] = {}
    cur = connect(PORT_A).cursor()
    cur.execute(f"DROP DATABASE IF EXISTS {db}")
    cur.execute(f"CREATE DATABASE {db}")
    for name, (dtype, first) in tables.items():
        cur.execute(f"CREATE TABLE {db}.{name} (id {dtype} PRIMARY KEY, grp VARCHAR(8) NOT NULL, amount INT NOT NULL)")
        rows[name] = [(first + i, f"g{i % 3}", i % 100) for i in range(30_000)]
        cur.executemany(f"INSERT INTO {db}.{name} VALUES (%s, %s, %s)", rows[name])
        cur.execute(f"ANALYZE TABLE {db}.{name}")
        cur.fetchall()
    os.environ["AIRFLOW_CONN_BS_SHARD_EXT"] = f"mysql://root@127.0.0.1:{PORT_A}/{db}"
    yield {"topology": {"database": db, "hosts": {"bs_shard_ext": "ext_0-1"}}, "tables": rows}
    connect(PORT_A).cursor().execute(f"DROP DATABASE IF EXISTS {db}")


def test_shards_keyed_at_both_ends_of_bigint_are_chunked_and_exact(dag: Any, extremes: Any, results_store: Any) -> None:
    dr = dag.test(run_conf=conf(extremes["topology"], rows_per_chunk=5_000, tables_per_task=1))
    assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
    run_key = f"{dag.dag_id}/{dr.run_id}"
    stored = results_store.chunks(run_key)
    assert len(stored) > 4  # both shards were split into chunks
    bounds = sorted((int(c["lo"]), int(c["hi"])) for c in stored)
    assert bounds[0][0] == -(2**63) and bounds[-1][1] == 2**64  # stored as planned, nothing clamped
    assert as_ints(results_store.result(run_key)) == truth(extremes["tables"])
