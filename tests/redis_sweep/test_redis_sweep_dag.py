"""Whole-DAG runs of bulkscan_redis_sweep with dag.test() against the real 6-node Redis Cluster."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from bulkscan.core.sweep import audit_run_prefix
from bulkscan.redisnodes.audit import merge_audits
from tests.airflow_helpers import clear_map_indexes, load_dag, resume_run, ti_table
from tests.redis_sweep.conftest import BASE_PORT, Dataset, assert_exactly_once, cluster_client, load

pytestmark = [pytest.mark.integration, pytest.mark.dagrun]
CONN_ID = "bulkscan_redis_test_cluster"


@pytest.fixture(scope="module")
def dag() -> Any:
    return load_dag("bulkscan_redis_sweep")


@pytest.fixture
def conn(monkeypatch: pytest.MonkeyPatch) -> str:
    extra = {"cluster": True, "startup_nodes": f"127.0.0.1:{BASE_PORT + 1},127.0.0.1:{BASE_PORT + 2}"}
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        json.dumps({"conn_type": "redis", "host": "127.0.0.1", "port": BASE_PORT, "extra": extra}),
    )
    return CONN_ID


def conf(conn_id: str, audit_dir: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "redis_conn_id": conn_id,
        "pattern": "sweep:*",
        "scan_count": 500,
        "audit_store": str(audit_dir),
        **overrides,
    }


def check_audit(audit_dir: Path, token: str, data: Dataset) -> None:
    _, rows = merge_audits(audit_dir, token)
    assert rows == {
        k.decode("utf-8", "backslashreplace"): (int(data.before[k][b"field_1"]), v) for k, v in data.applied().items()
    }


def test_dag_sweeps_every_primary_once(dag: Any, cluster: Any, conn: str, tmp_path: Path) -> None:
    data = load(cluster)
    dr = dag.test(run_conf=conf(conn, tmp_path))
    assert str(dr.state) == "success"
    tis = ti_table(dag.dag_id, dr.run_id)
    labels = sorted(label for (t, _), (_, _, label) in tis.items() if t == "sweep_node")
    assert len(labels) == 3 and all(re.fullmatch(r"127\.0\.0\.1:70\d\d \(slots [\d,-]+\)", x) for x in labels)
    assert {int(x.split(":")[1][:4]) for x in labels} == set(cluster.primaries())
    assert_exactly_once(cluster, data)
    token = f"{dag.dag_id}/{dr.run_id}"
    check_audit(tmp_path, token, data)
    assert len(list(tmp_path.glob(f"{audit_run_prefix(token)}*.csv.gz"))) == 4  # 3 nodes + mop-up
    check_report(dag.dag_id, dr.run_id, data)

    # One node task cleared and run again in the same DAG run (an operator "retry"): nothing doubles.
    clear_map_indexes(dag, dr.run_id, [("sweep_node", 0), "finalize"])
    assert resume_run(dag, dr.run_id) == "success"
    assert ti_table(dag.dag_id, dr.run_id)[("sweep_node", 0)][1] >= 2
    assert_exactly_once(cluster, data)
    check_audit(tmp_path, token, data)


def hold_paused(port: int, paused: threading.Event, seconds: float = 60) -> str:
    """CLIENT PAUSE WRITE on one primary (its script calls wait, reads go on) and set `paused`; then hold
    it until a client blocked on it has come and gone, or for at most `seconds`. Returns what ended the
    hold: "waiter gone" (the blocked client left while the node was paused) or "gave up"."""
    import time

    import redis

    admin = redis.Redis(port=port)
    admin.client_pause(int(seconds * 1000) + 5_000, all=False)
    paused.set()
    me, seen, outcome = admin.client_id(), False, "gave up"
    try:
        for _ in range(int(seconds * 10)):
            blocked = any("b" in c["flags"] and int(c["id"]) != me for c in admin.client_list())
            if seen and not blocked:
                outcome = "waiter gone"
                break
            seen = seen or blocked
            time.sleep(0.1)
    finally:
        admin.client_unpause()
        admin.close()
    return outcome


def test_a_node_task_stuck_on_a_paused_primary_is_ended_by_its_plan_derived_time_limit_and_retried_exact(
    dag: Any, cluster: Any, conn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan gives every node task a time limit of 10x the keys its primary holds (DBSIZE) at the
    slowest seconds per key of the connection's last finished run (recorded in the audit store by
    `finalize`; here seconds, with the floor lowered from 5 minutes), far inside the form's bound and the
    task's 180-minute execution_timeout. A task whose primary stops answering its script calls (CLIENT
    PAUSE WRITE) is ended when its time is up and retried; every key is still applied exactly once."""
    from tests.airflow_helpers import xcom_of

    monkeypatch.setenv("BULKSCAN_CHUNK_TIME_LIMIT_FLOOR_SECONDS", "5")
    load(cluster)
    assert str(dag.test(run_conf=conf(conn, tmp_path)).state) == "success"  # the last run: its node rates
    cluster.flushall()
    data = load(cluster)
    port = cluster.primaries()[1]
    paused, outcome = threading.Event(), []
    holder = threading.Thread(target=lambda: outcome.append(hold_paused(port, paused)), daemon=True)
    holder.start()
    assert paused.wait(30)
    dr = dag.test(run_conf=conf(conn, tmp_path))
    holder.join(70)
    tis = ti_table(dag.dag_id, dr.run_id)
    assert str(dr.state) == "success", tis
    limits = [n["time_limit_s"] for n in xcom_of(dr, "plan")]
    assert all(5 <= s < 120 for s in limits), limits  # derived from the last run, not the form's 120 minutes
    assert outcome == ["waiter gone"]  # the stuck task left while the node was still paused
    tries = {label: n for (t, _), (_, n, label) in tis.items() if t == "sweep_node"}
    assert tries == {label: (2 if f":{port} " in label else 1) for label in tries}
    assert_exactly_once(cluster, data)
    check_audit(tmp_path, f"{dag.dag_id}/{dr.run_id}", data)


def check_report(dag_id: str, run_id: str, data: Dataset) -> None:
    """The run's bulkscan tab: one bar per primary, keys applied per node adding up to the keys the
    sweep really changed (ground truth from the data as loaded), scanned at least that."""
    import xml.etree.ElementTree as ET

    from bulkscan.ui import pages, runs

    run = runs.run_info(dag_id, run_id)
    assert run is not None
    html = pages.run_page(run)
    assert "could not be read" not in html, html[:2000]
    ns = "{http://www.w3.org/2000/svg}"
    scanned, applied = (
        ET.fromstring(svg).findall(f"{ns}g") for svg in re.findall(r"<svg.*?</svg>", html, flags=re.S)[:2]
    )
    assert len(applied) == len(scanned) == 3
    assert sum(int(g.get("data-applied", "")) for g in applied) == len(data.applied())
    assert sum(int(g.get("data-scanned", "")) for g in scanned) >= len(data.applied())


def test_bad_params_fail_before_any_key_is_touched(dag: Any, cluster: Any, conn: str, tmp_path: Path) -> None:
    data = load(cluster, n=500)
    dr = dag.test(run_conf=conf(conn, tmp_path, marker_field="field_2"))
    assert str(dr.state) == "failed"
    tis = ti_table(dag.dag_id, dr.run_id)
    assert tis[("plan", -1)][0] == "failed"
    assert not any(t == "sweep_node" and s == "success" for (t, _), (s, _, _) in tis.items())
    c = cluster_client(cluster)
    assert all(c.hgetall(k) == h for k, h in data.before.items())


def test_connections_are_read_by_the_providers_redis_hook(cluster: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider's RedisHook reads the Airflow connection and builds the cluster client; bulkscan
    takes its arguments and the cluster's own node list: an entry node that is down is no obstacle,
    and what the hook refuses (a db in cluster mode) is refused before any key is touched."""
    from bulkscan.errors import BulkscanInputError
    from bulkscan.glue.connections import redis_settings
    from bulkscan.redisnodes.connect import discover
    from tests.receivers import free_port

    dead = free_port()  # nothing listens there: the entry node of this connection is "down"
    extra = {"cluster": True, "startup_nodes": ",".join(f"127.0.0.1:{p}" for p in cluster.ports)}
    conn = {"conn_type": "redis", "host": "127.0.0.1", "port": dead, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_BS_HOOK_CLUSTER", json.dumps(conn))
    settings = redis_settings("bs_hook_cluster")
    assert settings.cluster and {p for _, p in settings.entry_points()} >= set(cluster.primaries())
    assert {n.port for n in discover(settings).primaries()} == set(cluster.primaries())

    monkeypatch.setenv("AIRFLOW_CONN_BS_HOOK_BAD", json.dumps({**conn, "extra": {**extra, "db": 3}}))
    with pytest.raises(BulkscanInputError, match=r"bs_hook_bad.*database 0"):
        redis_settings("bs_hook_bad")
