"""Whole-DAG runs of bulkscan_table_scan with dag.test() against real MariaDB and Airflow metadata."""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest

from bulkscan.mysqldb.connect import direct
from bulkscan.mysqldb.results import ResultStore
from devtools.demo.data import create_events
from tests.airflow_helpers import asset_events, clear_map_indexes, load_dag, resume_run, ti_table, xcom_of
from tests.conftest import MYSQL_HOST, MYSQL_PORT

pytestmark = [pytest.mark.integration, pytest.mark.dagrun]
DB = "bs_scan_dag"
RESULTS = "bs_scan_dag_results"
CONN = "bs_scan_dag"
ROWS = 200_000
TLS_CONN = "bs_scan_dag_tls"  # the same server, its extras asking for TLS
ARROW = {
    "processor": "bulkscan.core.processors:arrow_aggregate",
    "processor_args": {"group": "user_id", "value": "amount"},
}
AFTER_SCAN = ("split_oversize", "scan_rest", "summarize")  # downstream of every chunk: cleared with a retried one


@pytest.fixture(scope="module")
def source(mysql_root: Any) -> Any:
    os.environ[f"AIRFLOW_CONN_{CONN.upper()}"] = f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{DB}"
    os.environ[f"AIRFLOW_CONN_{TLS_CONN.upper()}"] = f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{DB}?ssl_mode=REQUIRED"
    admin = mysql_root()
    for db in (DB, RESULTS):
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {db}")
    create_events(direct(MYSQL_HOST, MYSQL_PORT), DB, "events", ROWS, users=2_000)
    # The results schema from the start, so a test that expects no rows there also runs on its own.
    ResultStore(direct(MYSQL_HOST, MYSQL_PORT), RESULTS).ensure()
    cur = mysql_root(DB).cursor()
    cur.execute("CREATE TABLE empty_t (id BIGINT PRIMARY KEY, user_id INT, amount INT)")
    cur.execute("CREATE TABLE faults (chunk_index INT PRIMARY KEY)")
    cur.execute("CREATE TABLE attempts (run_key VARCHAR(250), chunk_index INT, try_number INT)")
    cur.execute("CREATE TABLE holds (run_key VARCHAR(250), outcome VARCHAR(20))")  # tests.processors "lock"
    yield mysql_root
    for db in (DB, RESULTS):
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {db}")


@pytest.fixture(scope="module")
def dag() -> Any:
    return load_dag("bulkscan_table_scan")


def conf(**overrides: Any) -> dict[str, Any]:
    base = {
        "conn_id": CONN,
        "table": "events",
        "key_column": "id",
        "group_column": "user_id",
        "value_column": "amount",
        "rows_per_chunk": 30_000,
        "max_chunks": 64,
        "max_parallel_chunks": 2,
        "results_schema": RESULTS,
        "processor": "aggregate",
    }
    base.update(overrides)
    return base


def truth(mysql_root: Any, table: str = "events") -> dict[str, tuple[Any, int]]:
    cur = mysql_root(DB).cursor()
    cur.execute(f"SELECT user_id, SUM(amount), COUNT(*) FROM {table} GROUP BY user_id")
    return {str(g): (s, n) for g, s, n in cur.fetchall()}


def result(mysql_root: Any, run_key: str) -> dict[str, tuple[Any, int]]:
    cur = mysql_root(RESULTS).cursor()
    cur.execute("SELECT group_key, value_sum, row_count FROM bulkscan_result WHERE run_key = %s", (run_key,))
    return {g: (s, n) for g, s, n in cur.fetchall()}


def attempts(mysql_root: Any, run_key: str) -> dict[int, list[int]]:
    cur = mysql_root(DB).cursor()
    cur.execute(
        "SELECT chunk_index, try_number FROM attempts WHERE run_key = %s ORDER BY chunk_index, try_number", (run_key,)
    )
    out: dict[int, list[int]] = {}
    for c, t in cur.fetchall():
        out.setdefault(c, []).append(t)
    return out


def faulty(mode: str) -> dict[str, Any]:
    return {
        "processor": "tests.processors:faulty_aggregate",
        "processor_args": {"control_db": DB, "group": "user_id", "value": "amount", "mode": mode, "port": MYSQL_PORT},
    }


def test_chunk_failing_once_still_ends_exact(source: Any, dag: Any) -> None:
    source(DB).cursor().execute("REPLACE INTO faults VALUES (2)")
    try:
        dr = dag.test(run_conf=conf(**faulty("once")))
    finally:
        source(DB).cursor().execute("DELETE FROM faults")
    key = f"{dag.dag_id}/{dr.run_id}"
    assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
    assert result(source, key) == truth(source)
    tis = ti_table(dag.dag_id, dr.run_id)
    scans = {m: v for (t, m), v in tis.items() if t == "scan_chunk"}
    assert len(scans) == 7  # 200,000 rows / 30,000 per chunk
    assert {m: v[1] for m, v in scans.items()} == {m: (2 if m == 2 else 1) for m in scans}
    cur = source(RESULTS).cursor()
    cur.execute("SELECT chunk_index, lo, hi FROM bulkscan_chunk WHERE run_key = %s ORDER BY chunk_index", (key,))
    stored = cur.fetchall()
    assert [c[0] for c in stored] == list(range(7))
    for index, lo, hi in stored:  # the UI label of every map index: the chunk's range as stored
        assert scans[index][2] == f"ids {int(lo):,}-{int(hi) - 1:,}"
    assert attempts(source, key)[2] == [1, 2]
    # The run's output as an asset event, its counts in the extra (what a downstream DAG is told).
    (event,) = asset_events("bulkscan://table_scan/results", dr.run_id)
    summary = xcom_of(dr, "summarize")
    assert event["rows"] == summary["rows"] == ROWS and event["chunks"] == 7
    assert event["groups"] == len(truth(source))


@pytest.mark.parametrize("planning", ["estimate", "walk"])
def test_arrow_batches_through_the_dag_are_exact(source: Any, dag: Any, planning: str) -> None:
    """A columnar processor (Arrow batches read by ConnectorX from the run's own Airflow connection):
    the same per-user sums as SQL, every chunk reconciled in its scan (none counted again by
    summarize), planned either way."""
    dr = dag.test(run_conf=conf(**ARROW, planning=planning))
    key = f"{dag.dag_id}/{dr.run_id}"
    assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
    assert result(source, key) == truth(source)
    summary = xcom_of(dr, "summarize")
    assert summary["rows"] == ROWS and summary["recounted_chunks"] == 0


@pytest.mark.parametrize("planning", ["estimate", "walk"])
def test_a_chunk_far_above_its_plan_is_split_at_scan_time_and_the_run_stays_exact(
    source: Any, dag: Any, planning: str
) -> None:
    """A bulk load of 100,000 rows lands in one chunk's range after planning (the chunk holding the
    billion-id gap): that chunk stops at twice its planned size, and the rest of its range is walked
    into exact chunks of the target size, scanned as mapped tasks of their own (`scan_rest`). The
    result equals SQL over the whole table, loaded rows included; the chunks tile the key space."""
    loading = {
        "processor": "tests.processors:bulk_loading_aggregate",
        "processor_args": {
            "database": DB, "group": "user_id", "value": "amount", "rows": 100_000, "pushdown": False,
            "port": MYSQL_PORT,
        },
        "planning": planning,
    }  # fmt: skip
    try:
        dr = dag.test(run_conf=conf(**loading))
        key = f"{dag.dag_id}/{dr.run_id}"
        assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
        assert result(source, key) == truth(source)
        cur = source(DB).cursor()
        cur.execute("SELECT COUNT(*) FROM events WHERE note = 'bulk'")
        assert cur.fetchone()[0] == 100_000  # the load did land
    finally:
        source(DB).cursor().execute("DELETE FROM events WHERE note = 'bulk'")
    planned, rests = xcom_of(dr, "plan"), xcom_of(dr, "split_oversize")
    summary = xcom_of(dr, "summarize")
    assert summary["rows"] == ROWS + 100_000 and summary["recounted_chunks"] == 0
    assert summary["chunks"] == len(planned) + len(rests) and summary["split_chunks"]
    (split,) = summary["split_chunks"]
    assert all(f"(rest of {split})" in r["label"] for r in rests) and 2 <= len(rests) <= 4
    cur = source(RESULTS).cursor()
    cur.execute("SELECT chunk_index, lo, hi, rows_scanned FROM bulkscan_chunk WHERE run_key = %s", (key,))
    stored = {i: (int(lo), int(hi), n) for i, lo, hi, n in cur.fetchall()}
    bounds = sorted((lo, hi) for lo, hi, _ in stored.values())
    assert bounds[0][0] == int(planned[0]["lo"]) and bounds[-1][1] == int(planned[-1]["hi"])
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))  # contiguous, no overlap
    target = conf()["rows_per_chunk"]
    assert stored[split][2] >= 2 * max(planned[split]["rows"], target)  # it read its limit, then stopped
    assert stored[split][1] == int(rests[0]["lo"]) < int(planned[split]["hi"])
    assert all(stored[int(r["index"])][2] <= target for r in rests)  # the rest's pieces are exact
    tis = ti_table(dag.dag_id, dr.run_id)
    assert sorted(m for t, m in tis if t == "scan_rest") == list(range(len(rests)))


def hang_chunk_3_and_run(source: Any, dag: Any, how: str) -> Any:
    """Chunk 3's first try hangs, with one slot (so the hang holds it): in Python ("hang"), or in a query
    waiting on the server behind another session's table lock ("lock"), which no signal can interrupt.
    The run must still succeed exact, chunk 3 on its second try, every other chunk on its first."""
    source(DB).cursor().execute("REPLACE INTO faults VALUES (3)")
    try:
        dr = dag.test(run_conf=conf(**faulty(how), max_parallel_chunks=1))
    finally:
        source(DB).cursor().execute("DELETE FROM faults")
    key = f"{dag.dag_id}/{dr.run_id}"
    assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
    assert result(source, key) == truth(source)
    tries = {m: v[1] for (t, m), v in ti_table(dag.dag_id, dr.run_id).items() if t == "scan_chunk"}
    assert tries == {m: (2 if m == 3 else 1) for m in tries}
    assert attempts(source, key)[3] == [1, 2]
    if how == "lock":  # the waiting query was ended on the server (KILL QUERY), not left until the lock went
        cur = source(DB).cursor()
        cur.execute("SELECT outcome FROM holds WHERE run_key = %s", (key,))
        assert [r[0] for r in cur.fetchall()] == ["waiter gone"]
    return dr


@pytest.mark.parametrize("how", ["hang", "lock"])
def test_a_hung_chunk_is_ended_by_its_execution_timeout_and_retried_exact(source: Any, how: str) -> None:
    """Every bulkscan task has an execution_timeout (BULKSCAN_TASK_TIMEOUT_MINUTES): a chunk hanging in
    the middle of its scan is ended, its host slot freed, and its retry makes the result exact."""
    from datetime import timedelta

    dag = load_dag("bulkscan_table_scan")
    scan = dag.get_task("scan_chunk")
    assert scan.partial_kwargs["execution_timeout"] == timedelta(minutes=180)  # the shipped default
    scan.partial_kwargs["execution_timeout"] = timedelta(seconds=8)
    hang_chunk_3_and_run(source, dag, how)


@pytest.mark.parametrize("how", ["hang", "lock"])
def test_a_hung_chunk_is_ended_by_its_plan_derived_time_limit_and_retried_exact(
    source: Any, dag: Any, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """The plan gives every chunk a time limit of 10x its planned rows at the slowest rate of the table's
    last run (here seconds, with the floor lowered from 5 minutes), far inside the form's bound and the
    task's 180-minute execution_timeout. A chunk that hangs past it is ended, its slot released, and its
    retry makes the result exact."""
    monkeypatch.setenv("BULKSCAN_CHUNK_TIME_LIMIT_FLOOR_SECONDS", "5")
    assert str(dag.test(run_conf=conf()).state) == "success"  # the table's last run: its rates
    dr = hang_chunk_3_and_run(source, dag, how)
    limits = [p["time_limit_s"] for p in xcom_of(dr, "plan")]
    assert all(5 <= s < 120 for s in limits), limits  # derived from the last run, not the form's 120 minutes


@pytest.mark.parametrize("receiver", ["webhook", "smtp"])
def test_a_chunk_failed_for_good_sends_one_alert_naming_dag_run_and_chunk(
    source: Any, dag: Any, receiver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failure alert goes through the `bulkscan_alerts` connection to a real receiver on loopback,
    once per task that failed after its retries (not once per try), naming the DAG, run and chunk."""
    import json

    from tests import receivers

    serve = receivers.webhook if receiver == "webhook" else receivers.smtp_sink
    with serve() as (port, got):
        if receiver == "webhook":
            conn = {"conn_type": "http", "host": "127.0.0.1", "port": port, "password": "hook-token",
                    "extra": {"endpoint": "/alerts"}}  # fmt: skip
        else:
            conn = {"conn_type": "smtp", "host": "127.0.0.1", "port": port, "login": "bulkscan@example.org",
                    "extra": {"to": "oncall@example.org", "disable_ssl": True, "disable_tls": True}}  # fmt: skip
        monkeypatch.setenv("AIRFLOW_CONN_BULKSCAN_ALERTS", json.dumps(conn))
        source(DB).cursor().execute("REPLACE INTO faults VALUES (3)")
        try:
            dr = dag.test(run_conf=conf(**faulty("table")))
        finally:
            source(DB).cursor().execute("DELETE FROM faults")
    tis = ti_table(dag.dag_id, dr.run_id)
    assert str(dr.state) == "failed" and tis[("scan_chunk", 3)][0] == "failed"
    label, tries = tis[("scan_chunk", 3)][2], tis[("scan_chunk", 3)][1]
    assert tries > 1 and label and label.startswith("ids ")
    assert len(got) == 1, got  # one alert: the chunk's last try; summarize was upstream_failed, no alert
    if receiver == "webhook":
        (alert,) = got
        assert (alert["path"], alert["auth"]) == ("/alerts", "Bearer hook-token")
        assert (alert["dag_id"], alert["run_id"], alert["task_id"], alert["map_index"]) == (
            dag.dag_id, dr.run_id, "scan_chunk", 3)  # fmt: skip
        assert alert["label"] == label and alert["try_number"] == tries
        assert "injected fault in chunk 3" in alert["error"]
        text = alert["text"]
    else:
        (mail,) = got
        assert mail["To"] == "oncall@example.org" and dag.dag_id in mail["Subject"] and label in mail["Subject"]
        text = mail.get_body(("html",)).get_content()
    for part in (dag.dag_id, dr.run_id, "scan_chunk[3]", label, "injected fault in chunk 3"):
        assert part in text, (part, text)


def test_failed_chunk_cleared_by_map_index_alone(source: Any, dag: Any) -> None:
    source(DB).cursor().execute("REPLACE INTO faults VALUES (3)")
    dr = dag.test(run_conf=conf(**faulty("table")))
    key = f"{dag.dag_id}/{dr.run_id}"
    assert str(dr.state) == "failed"
    before = ti_table(dag.dag_id, dr.run_id)
    assert before[("scan_chunk", 3)][0] == "failed"
    assert before[("summarize", -1)][0] == "upstream_failed"
    assert result(source, key) == {}

    source(DB).cursor().execute("DELETE FROM faults")  # the cause is fixed; retry only chunk 3
    clear_map_indexes(dag, dr.run_id, [("scan_chunk", 3), *AFTER_SCAN])
    assert resume_run(dag, dr.run_id) == "success"

    after = ti_table(dag.dag_id, dr.run_id)
    assert result(source, key) == truth(source)
    for (task_id, m), (state, tries, _) in after.items():
        assert state == ("skipped" if task_id == "scan_rest" else "success"), (task_id, m)  # no chunk split
        if task_id == "scan_chunk" and m != 3:
            assert tries == before[(task_id, m)][1], f"chunk {m} was re-run"
    assert after[("scan_chunk", 3)][1] > before[("scan_chunk", 3)][1]
    runs = attempts(source, key)
    assert all(len(v) == 1 for c, v in runs.items() if c != 3)  # the other chunks ran exactly once
    cur = source(RESULTS).cursor()
    cur.execute("SELECT chunk_index, writes FROM bulkscan_chunk WHERE run_key = %s", (key,))
    assert dict(cur.fetchall()) == {i: 1 for i in range(7)}


def test_empty_table_succeeds_with_zero_rows(source: Any, dag: Any) -> None:
    dr = dag.test(run_conf=conf(table="empty_t"))
    assert str(dr.state) == "success"
    assert result(source, f"{dag.dag_id}/{dr.run_id}") == {}


@pytest.mark.parametrize(
    "overrides",
    [{"table": "events; DROP TABLE events"}, {"rows_per_chunk": -5}, {"max_chunks": 5000}, {"group_column": "a b"}],
)
def test_bad_params_are_refused_at_trigger(source: Any, dag: Any, overrides: dict[str, Any]) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        dag.test(run_conf=conf(**overrides))


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"table": "no_such_table"}, "unknown table"),
        ({"conn_id": "no_such_conn"}, "unknown Airflow connection"),
        ({"conn_id": TLS_CONN, **ARROW}, f"connection '{TLS_CONN}' sets ssl_mode in its extras"),
    ],
)
def test_bad_input_fails_in_plan_before_any_write(
    source: Any, dag: Any, overrides: dict[str, Any], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    dr = dag.test(run_conf=conf(**overrides))
    tis = ti_table(dag.dag_id, dr.run_id)
    assert str(dr.state) == "failed"
    assert message in caplog.text
    assert tis[("plan", -1)][0] == "failed"
    assert tis[("plan", -1)][1] == 1, "bad input is not retried"
    assert not [k for k in tis if k[0] == "scan_chunk" and k[1] >= 0]
    cur = source(RESULTS).cursor()
    cur.execute("SELECT COUNT(*) FROM bulkscan_chunk WHERE run_key = %s", (f"{dag.dag_id}/{dr.run_id}",))
    assert cur.fetchone()[0] == 0


def _task_params(**overrides: Any) -> dict[str, Any]:
    p = conf(rows_per_chunk=100_000, **overrides)
    p.update(database=None, results_conn_id=None, filters=[], batch_seconds=0.5)
    p.setdefault("processor_args", {})
    return p


def _range_count(source: Any, lo: Any, hi: Any) -> int:
    cur = source(DB).cursor()
    cur.execute("SELECT COUNT(*) FROM events WHERE id >= %s AND id < %s", (int(lo), int(hi)))
    return int(cur.fetchone()[0])


def test_summarize_fails_naming_the_chunk_whose_count_differs(source: Any) -> None:
    """Reconciliation: a chunk that reports fewer rows than its range holds fails the run, named, with
    the range's real count (checked here by a COUNT(*) of its own)."""
    from bulkscan.errors import ReconcileError
    from bulkscan.jobs.table_scan import tasks as ts

    p = _task_params()
    chunks = ts.plan(p, 1024)
    key = "test/reconcile"
    results = [ts.scan(c, p, key, 1) for c in chunks]
    assert [r["range_rows"] for r in results] == [_range_count(source, r["lo"], r["hi"]) for r in results]
    summary = ts.summarize(results, p, key)
    assert summary["rows"] == ROWS and summary["recounted_chunks"] == 0  # no second pass over the table
    real = _range_count(source, results[1]["lo"], results[1]["hi"])
    results[1] = {**results[1], "rows": results[1]["rows"] - 1}  # chunk 1 lost a row
    with pytest.raises(
        ReconcileError, match=rf"chunk 1 \(ids [\d,]+-[\d,]+\) scanned {real - 1:,} rows but its range holds {real:,}"
    ):
        ts.summarize(results, p, key)


def test_rows_written_during_a_chunk_scan_do_not_break_its_reconcile(source: Any) -> None:
    """Each batch is read and counted in one snapshot of its own: rows a writer inserts behind the
    scan's position while it runs are neither read nor counted, so the run reconciles exactly. A chunk
    without that count is counted again by summarize, which now sees the new rows and names the chunk."""
    from bulkscan.errors import ReconcileError
    from bulkscan.jobs.table_scan import tasks as ts

    writer = {
        "processor": "tests.processors:writing_aggregate",
        "processor_args": {"database": DB, "group": "user_id", "value": "amount", "rows": 5, "port": MYSQL_PORT},
    }
    p = _task_params(**writer)
    chunks = ts.plan(p, 1024)
    before = _range_count(source, chunks[0]["lo"], chunks[0]["hi"])
    key = "test/snapshot"
    try:
        first = ts.scan(chunks[0], p, key, 1)
        assert _range_count(source, first["lo"], first["hi"]) == before + 5  # the writer did write
        assert first["rows"] == first["range_rows"] == before
        quiet = {**p, "processor": "aggregate", "processor_args": {}}
        results = [first, *(ts.scan(c, quiet, key, 1) for c in chunks[1:])]
        assert ts.summarize(results, quiet, key)["rows"] == ROWS
        results[0] = {**first, "range_rows": None}
        with pytest.raises(
            ReconcileError, match=rf"chunk 0 .* scanned {before:,} rows but its range holds {before + 5:,}"
        ):
            ts.summarize(results, quiet, key)
    finally:
        source(DB).cursor().execute("DELETE FROM events WHERE note = 'w'")


def test_a_run_failing_at_the_results_write_leaves_a_state_its_retry_completes_exactly(source: Any, dag: Any) -> None:
    """The results write of chunk 4 fails (a trigger on bulkscan_chunk refuses it) on every try: the
    run fails with nothing merged, chunk 4 holds only its checkpointed partial sums, and once the
    cause is gone, clearing chunk 4 and summarize completes the run exactly."""
    from bulkscan.mysqldb.connect import direct as direct_connect
    from bulkscan.mysqldb.results import ResultStore

    ResultStore(direct_connect(MYSQL_HOST, MYSQL_PORT), RESULTS).ensure()
    cur = source(RESULTS).cursor()
    cur.execute("CREATE TABLE IF NOT EXISTS refuse_chunk (chunk_index INT PRIMARY KEY)")
    cur.execute("REPLACE INTO refuse_chunk VALUES (4)")
    cur.execute("DROP TRIGGER IF EXISTS refuse_results_write")
    cur.execute(
        "CREATE TRIGGER refuse_results_write BEFORE INSERT ON bulkscan_chunk FOR EACH ROW "
        "BEGIN IF EXISTS (SELECT 1 FROM refuse_chunk WHERE chunk_index = NEW.chunk_index) THEN "
        "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'results write refused by the test'; END IF; END"
    )
    try:
        dr = dag.test(run_conf=conf())
        key = f"{dag.dag_id}/{dr.run_id}"
        tis = ti_table(dag.dag_id, dr.run_id)
        assert str(dr.state) == "failed" and tis[("scan_chunk", 4)][0] == "failed"
        assert result(source, key) == {}  # nothing merged
        cur.execute("SELECT COUNT(*) FROM bulkscan_run WHERE run_key = %s", (key,))
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT chunk_index FROM bulkscan_chunk WHERE run_key = %s ORDER BY 1", (key,))
        assert [r[0] for r in cur.fetchall()] == [0, 1, 2, 3, 5, 6]  # chunk 4's row was never written
        cur.execute("SELECT done FROM bulkscan_checkpoint WHERE run_key = %s AND chunk_index = 4", (key,))
        assert cur.fetchone()[0] == 0  # its batches are checkpointed, the chunk is not done

        cur.execute("DELETE FROM refuse_chunk")  # the cause is fixed
        clear_map_indexes(dag, dr.run_id, [("scan_chunk", 4), *AFTER_SCAN])
        assert resume_run(dag, dr.run_id) == "success"
        assert result(source, key) == truth(source)
        cur.execute("SELECT chunk_index, writes FROM bulkscan_chunk WHERE run_key = %s", (key,))
        assert dict(cur.fetchall()) == {i: 1 for i in range(7)}
    finally:
        cur.execute("DROP TRIGGER IF EXISTS refuse_results_write")
