"""The library path over two real hosts: exact results, the per-host cap observed on the hosts,
and a host that is down failing only its own tables until it is back."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Self

import pytest

from bulkscan.errors import BulkscanInputError
from bulkscan.jobs.shard_query.hostplan import plan_units
from bulkscan.jobs.shard_query.packing import reconcile
from bulkscan.jobs.shard_query.runner import ShardRun, check_store, merge, run_unit, run_units
from bulkscan.jobs.shard_query.settings import ShardSettings
from bulkscan.jobs.shard_query.topology import parse_topology

from . import probe
from .conftest import CONN_A, CONN_B, DB, PORT_A, ShardData, as_ints, connect, mysql2

pytestmark = pytest.mark.integration
AGG = {
    "processor": "aggregate",
    "processor_kwargs": {"group": "grp", "value": "amount"},
}


def test_library_path_exact_over_two_hosts(
    shard_data: ShardData, connect_for: Callable[..., Any], results_store: Any
) -> None:
    topo = parse_topology(shard_data.topology)
    settings = ShardSettings(rows_per_chunk=8_000, tables_per_task=4, max_queries_per_host=3, **AGG)  # type: ignore[arg-type]
    units = plan_units(topo, connect_for, settings)
    labels = [u.label for u in units]
    big = next(n for n, r in shard_data.rows.items() if r == 30_000)
    big_items = [i for u in units for i in u.items if f"{u.conn_id} / {i.table}" == big]
    # the big shard is chunked: 30,000 rows at 8,000 a chunk (from the row estimate: 3 or 4 chunks)
    assert len(big_items) in (3, 4) and {i.parts for i in big_items} == {len(big_items)}
    assert all(len(u.items) <= 4 for u in units) and len(units) < len(labels) + 1
    assert len({(u.conn_id) for u in units[:2]}) == 2  # both hosts get work first
    out = run_units(units, connect_for, settings, results_store, "it/exact")
    assert out.failures == {}
    rows = reconcile(topo, units, out.answers)
    assert rows == shard_data.rows
    check_store(results_store, "it/exact", out.answers)
    merged = merge(results_store, "it/exact", "test", out.answers)
    assert merged.rows == shard_data.total_rows
    assert as_ints(results_store.result("it/exact")) == shard_data.truth

    # a re-run of some units replaces their earlier output: still exact, nothing counted twice
    again = run_units(units[:5], connect_for, settings, results_store, "it/exact")
    answers = {a.index: a for a in out.answers} | {a.index: a for a in again.answers}
    merge(results_store, "it/exact", "test", list(answers.values()))
    assert as_ints(results_store.result("it/exact")) == shard_data.truth


def test_missing_table_is_an_input_error_before_any_scan(
    shard_data: ShardData, connect_for: Callable[..., Any]
) -> None:
    topo = parse_topology({"database": DB, "hosts": {CONN_A: "table_000-016"}})
    with pytest.raises(
        BulkscanInputError,
        match=r"'bs_shard_a' \(bs_shard_it\): 1 topology table\(s\) missing .*table_016",
    ):
        plan_units(topo, connect_for, ShardSettings(**AGG))  # type: ignore[arg-type]


class ProcesslistWatch:
    """Samples information_schema.PROCESSLIST on each host: most probe queries running at once."""

    def __init__(self, ports: dict[str, int]):
        self.ports = ports
        self.peak = dict.fromkeys(ports, 0)
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        conns = {c: connect(p) for c, p in self.ports.items()}
        sql = (
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query' "
            f"AND INFO LIKE '%%{probe.MARK}%%' AND INFO NOT LIKE '%%PROCESSLIST%%'"
        )
        while not self._stop.is_set():
            for c, conn in conns.items():
                cur = conn.cursor()
                cur.execute(sql)
                self.peak[c] = max(self.peak[c], int(cur.fetchone()[0]))
            self.samples += 1
            time.sleep(0.01)
        for conn in conns.values():
            conn.close()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _counter_peaks(ports: dict[str, int]) -> dict[str, int]:
    peaks = {}
    for c, port in ports.items():
        cur = connect(port, DB).cursor()
        cur.execute("SELECT peak FROM probe")
        peaks[c] = int(cur.fetchone()[0])
    return peaks


def _one_thread_per_unit(units: list[Any], connect_for: Callable[..., Any], settings: ShardSettings) -> list[Any]:
    """Every unit in its own thread at once (as many ready tasks would be): only the slots limit them."""
    with ThreadPoolExecutor(max_workers=len(units)) as pool:
        futures = [
            pool.submit(run_unit, u, connect_for(u.conn_id, u.database), ShardRun(settings, None, "it/cap"))
            for u in units
        ]
    return [a for f in futures for a in f.result()]


@pytest.mark.parametrize(("cap", "expect_above"), [(2, None), (5, 2)])
def test_per_host_cap_observed_on_the_hosts(
    shard_data: ShardData,
    connect_for: Callable[..., Any],
    second_host: int,
    cap: int,
    expect_above: int | None,
) -> None:
    ports = {CONN_A: PORT_A, CONN_B: second_host}
    probe.PORTS.update(ports)
    for port in ports.values():
        cur = connect(port, DB).cursor()
        cur.execute("CREATE TABLE IF NOT EXISTS probe (active INT NOT NULL, peak INT NOT NULL)")
        cur.execute("DELETE FROM probe")
        cur.execute("INSERT INTO probe VALUES (0, 0)")
    topo = parse_topology(shard_data.topology)
    settings = ShardSettings(
        processor="tests.shard_query.probe:factory",
        processor_kwargs={"sleep": 0.12},
        tables_per_task=2,
        max_queries_per_host=cap,
    )
    units = plan_units(topo, connect_for, settings)
    with ProcesslistWatch(ports) as watch:  # 16 units, each running 2 tables at once: 32 ready at once
        out = _one_thread_per_unit(units, connect_for, settings)
    assert len(out) == 32
    counters = _counter_peaks(ports)
    for conn_id in ports:
        assert watch.peak[conn_id] <= cap and counters[conn_id] <= cap, (
            watch.peak,
            counters,
        )
        assert watch.peak[conn_id] >= min(cap, 2), (
            watch.peak,
            counters,
        )  # really ran in parallel
        if expect_above is not None:  # the observation can see more than the small cap
            assert max(watch.peak[conn_id], counters[conn_id]) > expect_above, (
                watch.peak,
                counters,
            )


def test_host_down_fails_only_its_tables_then_rerun_completes_exactly(
    shard_data: ShardData, connect_for: Callable[..., Any], results_store: Any
) -> None:
    topo = parse_topology(shard_data.topology)
    settings = ShardSettings(rows_per_chunk=8_000, tables_per_task=3, max_queries_per_host=2, **AGG)  # type: ignore[arg-type]
    mysql2("stop")
    try:
        units = plan_units(topo, connect_for, settings)  # host B unplanned: its tables run whole
        out = run_units(units, connect_for, settings, results_store, "it/down")
    finally:
        mysql2("start")
    failed = [u for u in units if u.label in out.failures]
    assert failed and all(u.conn_id == CONN_B for u in failed)
    assert {u.conn_id for u in units if u.label not in out.failures} == {CONN_A}
    for u in failed:
        msg = out.failures[u.label]
        assert f"host '{CONN_B}'" in msg and any(f"table '{i.table}'" in msg for i in u.items), msg
    a_rows = {k: v for k, v in shard_data.rows.items() if k.startswith(CONN_A)}
    assert {f"{a.conn_id} / {a.table}" for a in out.answers} == set(a_rows)

    retry = run_units(failed, connect_for, settings, results_store, "it/down")
    assert retry.failures == {}
    answers = out.answers + retry.answers
    assert reconcile(topo, units, answers) == shard_data.rows
    check_store(results_store, "it/down", answers)
    merge(results_store, "it/down", "test", answers)
    assert as_ints(results_store.result("it/down")) == shard_data.truth


def test_query_file_over_two_hosts_exact(
    shard_data: ShardData, connect_for: Callable[..., Any], results_store: Any
) -> None:
    """The user's own query (include/sql/shard_query_example.sql, a bound min_amount) over whole shards
    and over the chunks of the big one equals the sums computed in Python from the generated rows."""
    low = 400
    truth = shard_data.truth_at_least(low)
    topo = parse_topology(shard_data.topology)
    settings = ShardSettings(
        processor="sql_file",
        processor_kwargs={"file": "shard_query_example.sql", "params": {"min_amount": low}},
        rows_per_chunk=8_000,
        max_queries_per_host=2,
    )
    units = plan_units(topo, connect_for, settings)
    assert any(i.parts > 1 for u in units for i in u.items)  # the big shard runs as key ranges
    out = run_units(units, connect_for, settings, results_store, "it/query-file")
    assert out.failures == {}
    reconcile(topo, units, out.answers)
    merge(results_store, "it/query-file", "test", out.answers)
    assert as_ints(results_store.result("it/query-file")) == truth
    assert sum(a.rows for a in out.answers) == sum(n for _, n in truth.values())


def test_query_file_checked_on_the_hosts_before_any_scan(
    shard_data: ShardData, connect_for: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bulkscan.core import sqlfiles

    shutil.copytree(sqlfiles.SQL_DIR, tmp_path, dirs_exist_ok=True)
    (tmp_path / "bad_column.sql").write_text("SELECT grp, SUM(nope), COUNT(*) FROM {table} WHERE {range} GROUP BY grp")
    (tmp_path / "two_columns.sql").write_text("SELECT grp, COUNT(*) FROM {table} WHERE {range} GROUP BY grp")
    monkeypatch.setattr(sqlfiles, "SQL_DIR", tmp_path)
    sqlfiles._template.cache_clear()
    topo = parse_topology(shard_data.topology)
    try:
        for name, message in (("bad_column", r"bad_column\.sql on table_000: .*nope"), ("two_columns", "3 columns")):
            settings = ShardSettings(processor="sql_file", processor_kwargs={"file": name})
            with pytest.raises(BulkscanInputError, match=message):
                plan_units(topo, connect_for, settings)
        with pytest.raises(BulkscanInputError, match="filters do not apply"):
            ShardSettings(
                processor="sql_file",
                processor_kwargs={"file": "shard_query_example", "params": {"min_amount": 1}},
                filters=[["amount", ">", 1]],
            )
    finally:
        sqlfiles._template.cache_clear()
