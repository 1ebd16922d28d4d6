"""Whole-DAG runs of bulkscan_shard_query with dag.test() over two real MariaDB hosts."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.airflow_helpers import clear_map_indexes, load_dag, resume_run, ti_table
from tests.shard_query.conftest import CONN_A, CONN_B, RESULTS, ShardData, as_ints, mysql2

pytestmark = [pytest.mark.integration, pytest.mark.dagrun]


@pytest.fixture(scope="module")
def dag() -> Any:
    return load_dag("bulkscan_shard_query")


def conf(data: ShardData, **overrides: Any) -> dict[str, Any]:
    base = {
        "topology": data.topology,
        "key_column": "id",
        "group_column": "grp",
        "value_column": "amount",
        "tables_per_task": 4,
        "rows_per_chunk": 8_000,
        "max_queries_per_host": 2,
        "results_conn_id": CONN_A,
        "results_schema": RESULTS,
    }
    base.update(overrides)
    return base


def scan_tis(dag_id: str, run_id: str) -> dict[int, tuple[str | None, str | None]]:
    return {m: (s, label) for (t, m), (s, _, label) in ti_table(dag_id, run_id).items() if t == "scan_shard"}


def test_dag_exact_result_and_labels(dag: Any, shard_data: ShardData, results_store: Any) -> None:
    dr = dag.test(run_conf=conf(shard_data))
    assert str(dr.state) == "success"
    tis = scan_tis(dag.dag_id, dr.run_id)
    labels = sorted(label or "" for _, label in tis.values())
    for conn_id in (
        CONN_A,
        CONN_B,
    ):  # small shards grouped 4 per task, shown as "host-conn / first..last"
        assert any(re.fullmatch(rf"{conn_id} / table_\d{{3}}\.\.table_\d{{3}}", lab) for lab in labels), labels
    # the big shard is chunked inside the same fan-out: its chunks are stored as separate items
    stored = results_store.chunks(f"{dag.dag_id}/{dr.run_id}")
    assert len(stored) - len(shard_data.rows) in (2, 3) and sum(int(c["rows_scanned"]) for c in stored) == sum(
        shard_data.rows.values()
    )
    assert all(s == "success" for s, _ in tis.values())
    assert as_ints(results_store.result(f"{dag.dag_id}/{dr.run_id}")) == shard_data.truth
    check_report(dag.dag_id, dr.run_id, stored)


def check_report(dag_id: str, run_id: str, stored: list[dict[str, Any]]) -> None:
    """The run's bulkscan tab (what the plugin serves): one bar per stored shard chunk with its rows and
    label, and per host the queries in flight, never above the run's cap of 2."""
    import xml.etree.ElementTree as ET

    from bulkscan.ui import pages, runs

    run = runs.run_info(dag_id, run_id)
    assert run is not None and run.params["max_queries_per_host"] == 2
    html = pages.run_page(run)
    assert "could not be read" not in html, html[:2000]
    svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    ns = "{http://www.w3.org/2000/svg}"
    bars = ET.fromstring(svgs[0]).findall(f"{ns}g")  # rows per chunk
    assert [(int(b.get("data-index", "")), int(b.get("data-rows", ""))) for b in bars] == [
        (int(c["chunk_index"]), int(c["rows_scanned"])) for c in sorted(stored, key=lambda c: int(c["chunk_index"]))
    ]
    flights = {p.get("data-host"): int(p.get("data-peak", "0")) for p in ET.fromstring(svgs[-1]).iter(f"{ns}polyline")}
    assert set(flights) == {CONN_A, CONN_B} and all(1 <= peak <= 2 for peak in flights.values()), flights


def test_unknown_connection_id_fails_before_any_query(dag: Any, shard_data: ShardData) -> None:
    topo = {
        "database": shard_data.topology["database"],
        "hosts": {CONN_A: "table_000-001", "bs_shard_nope": "t_9"},
    }
    dr = dag.test(run_conf=conf(shard_data, topology=topo))
    assert str(dr.state) == "failed"
    tis = ti_table(dag.dag_id, dr.run_id)
    assert tis[("plan", -1)][0] == "failed"
    assert not any(t == "scan_shard" and s == "success" for (t, _), (s, _, _) in tis.items())


def test_host_down_confined_then_clear_failed_map_indexes(
    dag: Any,
    shard_data: ShardData,
    results_store: Any,
) -> None:
    mysql2("stop")
    try:
        dr = dag.test(run_conf=conf(shard_data))
    finally:
        mysql2("start")
    assert str(dr.state) == "failed"
    tis = scan_tis(dag.dag_id, dr.run_id)
    failed = {m for m, (s, _) in tis.items() if s == "failed"}
    assert failed, tis
    assert all((tis[m][1] or "").startswith(f"{CONN_B} / ") for m in failed), tis
    assert all(s == "success" for m, (s, label) in tis.items() if (label or "").startswith(f"{CONN_A} / "))

    clear_map_indexes(dag, dr.run_id, [*(("scan_shard", m) for m in sorted(failed)), ("merge", -1)])
    assert resume_run(dag, dr.run_id) == "success"
    after = ti_table(dag.dag_id, dr.run_id)
    # only the failed map indexes ran again: host A's tasks kept their single try
    tries = {m: n for (t, m), (_, n, _) in after.items() if t == "scan_shard"}
    assert all(tries[m] == 1 for m in tis if m not in failed), tries
    assert all(after[("scan_shard", m)][0] == "success" for m in failed)
    assert as_ints(results_store.result(f"{dag.dag_id}/{dr.run_id}")) == shard_data.truth


def test_dag_query_file_param_exact(dag: Any, shard_data: ShardData, results_store: Any) -> None:
    """The trigger form's 'Query file' + 'Query parameters' run the user's SQL file in every shard."""
    low = 250
    truth = shard_data.truth_at_least(low)
    dr = dag.test(run_conf=conf(shard_data, query_file="shard_query_example.sql", query_params={"min_amount": low}))
    assert str(dr.state) == "success"
    assert as_ints(results_store.result(f"{dag.dag_id}/{dr.run_id}")) == truth
    bad = dag.test(run_conf=conf(shard_data, query_file="shard_query_example.sql", query_params={}))
    assert str(bad.state) == "failed"  # min_amount has no value: plan fails, nothing is scanned
    tis = ti_table(dag.dag_id, bad.run_id)
    assert tis[("plan", -1)][0] == "failed"
    assert not any(t == "scan_shard" and s == "success" for (t, _), (s, _, _) in tis.items())


def test_a_shard_task_blocked_on_a_lock_is_ended_by_its_plan_derived_time_limit_and_retried_exact(
    dag: Any, shard_data: ShardData, results_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan gives every shard task a time limit of 10x its planned rows at the slowest rate of the
    topology's last run (here seconds, with the floor lowered from 5 minutes), far inside the form's
    bound and the task's 180-minute execution_timeout. A task whose query waits on the server behind
    another session's LOCK TABLES ... WRITE (in a thread of the task's, which no signal reaches) has that
    query ended on the server when its time is up, before the task ends: the retry's query never waits
    beside it. The retry then makes the result exact."""
    import threading

    from tests.airflow_helpers import xcom_of
    from tests.locks import hold_until_waiters_gone
    from tests.shard_query.conftest import DB, PORT_A, connect

    monkeypatch.setenv("BULKSCAN_CHUNK_TIME_LIMIT_FLOOR_SECONDS", "5")
    run_conf = conf(shard_data, query_file=None)  # dag.test() keeps the last run's conf as the DAG's params
    assert str(dag.test(run_conf=run_conf).state) == "success"  # the topology's last run: its rates
    small = [k for k, n in sorted(shard_data.rows.items()) if k.startswith(CONN_A) and 100 < n < 8_000]
    table = small[0].split(" / ")[1]  # a small table: the plan reads no row of it
    locked, outcome = threading.Event(), []

    def hold() -> None:
        outcome.append(hold_until_waiters_gone(connect(PORT_A, DB), connect(PORT_A), table, locked))

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert locked.wait(30)
    dr = dag.test(run_conf=run_conf)
    holder.join(70)
    assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
    assert outcome == ["waiter gone"]  # the waiting query was ended on the server, not left until the lock went
    assert as_ints(results_store.result(f"{dag.dag_id}/{dr.run_id}")) == shard_data.truth
    planned = xcom_of(dr, "plan")
    (blocked,) = [
        m for m, u in enumerate(planned) if u["conn_id"] == CONN_A and table in {i["table"] for i in u["items"]}
    ]
    tries = {m: n for (t, m), (_, n, _) in ti_table(dag.dag_id, dr.run_id).items() if t == "scan_shard"}
    assert tries == {m: (2 if m == blocked else 1) for m in tries}
    limits = [u["time_limit_s"] for u in planned]
    assert all(5 <= s < 120 for s in limits), limits  # derived from the last run, not the form's 120 minutes
