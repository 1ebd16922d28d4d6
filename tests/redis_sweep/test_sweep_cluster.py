"""The sweep against a real 6-node Redis Cluster: ground truth, replicas untouched, kill + retry,
failover and slot migration mid-sweep; every case checks each key's field_2 and the merged audit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from redis.crc import key_slot

from bulkscan.core.sweep import SweepSpec
from bulkscan.redisnodes.audit import merge_audits
from bulkscan.redisnodes.connect import RedisSettings, discover
from bulkscan.redisnodes.mopup import mop_up
from bulkscan.redisnodes.pagescript import run_marker
from bulkscan.redisnodes.sweeper import SweepHooks, SweepOptions, sweep_node
from devtools.localcluster import LocalCluster
from tests.redis_sweep.conftest import Dataset, assert_exactly_once, load
from tests.redis_sweep.conftest import cluster_client as cluster_client_for

pytestmark = pytest.mark.integration
SPEC = SweepSpec(pattern="sweep:*", scan_count=200)
ROOT = Path(__file__).resolve().parents[2]


def assert_audit(audit_dir: Path, token: str, data: Dataset) -> dict[str, Any]:
    """The run's audit names every applied key once, with its increment and resulting value."""
    totals, rows = merge_audits(audit_dir, token)
    want = {
        k.decode("utf-8", "backslashreplace"): (int(data.before[k][b"field_1"]), v) for k, v in data.applied().items()
    }
    assert rows == want
    return totals.to_dict()


def sweep_all(settings: RedisSettings, token: str, audit_dir: Path, spec: SweepSpec = SPEC) -> list[dict[str, Any]]:
    plan = discover(settings).plan()
    out = [sweep_node(settings, p, spec, token, audit_dir) for p in plan]
    out.append(mop_up(settings, plan, spec, token, audit_dir))
    return out


def test_sweep_applies_ground_truth_once_and_never_touches_replicas(
    cluster: LocalCluster, settings: RedisSettings, tmp_path: Path
) -> None:
    data = load(cluster)
    plan = discover(settings).plan()
    assert sorted(p["port"] for p in plan) == sorted(cluster.primaries())
    assert all(p["label"].startswith(f"127.0.0.1:{p['port']} (slots ") for p in plan)
    for p in cluster.ports:
        cluster.client(p).config_resetstat()

    results = sweep_all(settings, "run-1", tmp_path)

    assert_exactly_once(cluster, data)
    totals = assert_audit(tmp_path, "run-1", data)
    assert totals["repeated"] == 0
    applied = sum(r["applied"] for r in results)
    assert applied == len(data.applied()) == totals["keys"]
    skipped: dict[str, int] = {}
    for r in results:
        for reason, n in r["skipped"].items():
            skipped[reason] = skipped.get(reason, 0) + n
    want_skips: dict[str, int] = {}
    for status, _ in data.truth.values():
        if status != "A":
            want_skips[status] = want_skips.get(status, 0) + 1
    assert skipped == {
        {"M": "missing", "Z": "zero", "N": "negative", "I": "not_integer", "T": "target_not_integer",
         "O": "overflow"}[s]: n for s, n in want_skips.items()
    }  # fmt: skip
    for port in cluster.replicas():
        stats = cluster.client(port).info("commandstats")
        assert "cmdstat_scan" not in stats and "cmdstat_evalsha" not in stats, f"replica {port} was swept"

    key, new = next(iter(data.applied().items()))
    marker = cluster_client_for(cluster).hget(key, "_bulkscan_sweep").decode()
    assert marker.startswith(f"{run_marker('run-1')}|{int(data.before[key][b'field_1'])}|{new}|")

    # The same run again (a re-run of the DAG run, or every node task cleared): nothing changes.
    again = sweep_all(settings, "run-1", tmp_path)
    assert sum(r["applied"] for r in again) == 0
    assert sum(r["done_before"] for r in again[:-1]) == len(data.applied())
    assert_exactly_once(cluster, data)
    assert_audit(tmp_path, "run-1", data)


CHILD = """
import os, signal, sys
from airflow.sdk import ObjectStoragePath
from bulkscan.core.sweep import SweepSpec
from bulkscan.redisnodes.connect import RedisSettings, discover
from bulkscan.redisnodes.sweeper import SweepHooks, SweepOptions, sweep_node
settings = RedisSettings(port={port}, cluster=True)
plan = [p for p in discover(settings).plan() if p["port"] == {node}][0]
def die(page):
    if page == 4:  # after the 4th page's script call, before its audit rows are written
        os.kill(os.getpid(), signal.SIGKILL)
sweep_node(settings, plan, SweepSpec(pattern="sweep:*", scan_count=200), "run-kill",
           ObjectStoragePath("file://" + sys.argv[1]), SweepOptions(SweepHooks(after_apply=die)))
"""


def test_node_task_killed_halfway_then_retried(cluster: LocalCluster, settings: RedisSettings, tmp_path: Path) -> None:
    data = load(cluster)
    plan = discover(settings).plan()
    victim = plan[0]
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}"}
    code = CHILD.format(port=settings.port, node=victim["port"])
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=False, env=env, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert list(tmp_path.glob("*.tmp")), "the killed attempt left its unfinished audit behind"

    retry = sweep_node(settings, victim, SPEC, "run-kill", tmp_path)
    assert retry["done_before"] >= 4 * 100, "the killed attempt had applied pages before it died"
    for p in plan[1:]:
        sweep_node(settings, p, SPEC, "run-kill", tmp_path)
    assert not list(tmp_path.glob("*.tmp"))
    assert_exactly_once(cluster, data)
    assert_audit(tmp_path, "run-kill", data)


def test_primary_failover_during_sweep(cluster: LocalCluster, settings: RedisSettings, tmp_path: Path) -> None:
    data = load(cluster)
    plan = discover(settings).plan()
    victim = plan[1]
    replica = cluster.replica_of(victim["port"])

    done: list[int] = []

    def failover(page: int) -> None:
        if page == 3 and not done:  # once: the restarted pass counts its pages from 1 again
            done.append(page)
            cluster.client(replica).execute_command("CLUSTER", "FAILOVER")
            deadline = time.monotonic() + 30
            while cluster.client(replica).info("replication")["role"] != "master":
                assert time.monotonic() < deadline, "failover did not happen"
                time.sleep(0.05)

    results = [
        sweep_node(
            settings,
            p,
            SPEC,
            "run-fo",
            tmp_path,
            SweepOptions(SweepHooks(after_apply=failover)) if p is victim else None,
        )
        for p in plan
    ]
    results.append(mop_up(settings, plan, SPEC, "run-fo", tmp_path))
    moved = results[1]
    assert moved["restarts"] >= 1 and moved["swept"] == f"127.0.0.1:{replica}"
    assert moved["done_before"] > 0  # pages applied on the old primary were found replicated, not redone
    assert results[-1]["rounds"] == 0  # a failover moves no key between shards
    cluster.wait_ok()
    assert_exactly_once(cluster, data)
    assert_audit(tmp_path, "run-fo", data)


def _node_id(cluster: LocalCluster, port: int) -> str:
    return cluster.client(port).execute_command("CLUSTER", "MYID").decode()


def migrate_slot(cluster: LocalCluster, slot: int, src: int, dst: int, fraction: float = 1.0) -> None:
    """What `redis-cli --cluster reshard` does for one slot; `fraction` < 1 leaves it half migrated."""
    s, d = cluster.client(src), cluster.client(dst)
    d.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", _node_id(cluster, src))
    s.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", _node_id(cluster, dst))
    keys = s.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100_000)
    keys = keys[: int(len(keys) * fraction)]
    if keys:
        s.execute_command("MIGRATE", "127.0.0.1", dst, "", 0, 5000, "KEYS", *keys)
    if fraction >= 1.0:
        finish_slot(cluster, slot, dst)


def finish_slot(cluster: LocalCluster, slot: int, dst: int) -> None:
    src = next(p for p in cluster.primaries() if p != dst and cluster.client(p).execute_command(
        "CLUSTER", "COUNTKEYSINSLOT", slot) >= 0 and slot in _slots(cluster, p))  # fmt: skip
    s = cluster.client(src)
    rest = s.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100_000)
    if rest:
        s.execute_command("MIGRATE", "127.0.0.1", dst, "", 0, 5000, "KEYS", *rest)
    for p in cluster.primaries():
        cluster.client(p).execute_command("CLUSTER", "SETSLOT", slot, "NODE", _node_id(cluster, dst))


def _slots(cluster: LocalCluster, port: int) -> set[int]:
    me = next(n for n in discover(RedisSettings(port=port, cluster=True)).nodes if n.port == port)
    return me.slot_set()


@pytest.mark.parametrize("server_scan", [True, False], ids=["scan-in-script", "client-scan"])
def test_slot_migration_during_sweep(
    cluster: LocalCluster, settings: RedisSettings, tmp_path: Path, server_scan: bool
) -> None:
    data = load(cluster)
    plan = discover(settings).plan()
    a, b = plan[0], plan[1]
    a_slots = sorted({key_slot(k) for k in data.before} & {s for x, y in a["slots"] for s in range(x, y + 1)})
    later = a_slots[-40:-1]  # likely not scanned on A yet when they move
    half = a_slots[-1]
    state: dict[str, Any] = {"pages": 0}

    # B is swept completely first, so keys that reach B afterwards are only found by the mop-up.
    results = [sweep_node(settings, b, SPEC, "run-mig", tmp_path)]

    def reshard(keys: list[bytes] | None = None) -> None:
        state["pages"] += 1
        if state["pages"] == 3:
            # client-side SCAN: the slot of a key in this very page moves before the script runs, so its
            # keys come back "R" and go through the cluster client
            for slot in ({key_slot(keys[0])} if keys else set()) | set(later):
                migrate_slot(cluster, slot, a["port"], b["port"])
            migrate_slot(cluster, half, a["port"], b["port"], fraction=0.5)  # left half migrated

    hooks = SweepHooks(after_apply=lambda page: reshard()) if server_scan else SweepHooks(before_apply=reshard)
    results.append(sweep_node(settings, a, SPEC, "run-mig", tmp_path, SweepOptions(hooks, server_scan=server_scan)))
    results.extend(sweep_node(settings, p, SPEC, "run-mig", tmp_path) for p in plan[2:])
    assert state["pages"] >= 3
    if not server_scan:
        assert results[1]["redirected"] > 0
    mop = mop_up(settings, plan, SPEC, "run-mig", tmp_path)
    assert mop["rounds"] >= 1 and mop["slots"] >= len(later)
    finish_slot(cluster, half, b["port"])
    cluster.wait_ok()
    assert_exactly_once(cluster, data)
    totals = assert_audit(tmp_path, "run-mig", data)
    assert totals["keys"] == len(data.applied())
