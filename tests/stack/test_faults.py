"""Faults on the loopback CeleryExecutor stack: nothing lost, nothing counted twice (issue 6).

The scenarios live in tests/stack/scenarios.py (also looped by `make soak`); here each is asserted:
lost == doubled == 0 against independent ground truth, plus the evidence that the fault really hit
the middle of the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bulkscan.ops.api import AirflowApi
from tests.stack import scenarios as sn
from tests.stack import stackctl

pytestmark = [pytest.mark.stack, pytest.mark.integration]


def test_two_triggers_at_once_second_waits(api: AirflowApi) -> None:
    tally, ev = sn.concurrent_triggers(api)
    assert set(ev["states"].values()) == {"success"}, ev
    assert (tally.lost, tally.doubled, tally.runs) == (0, 0, 2), tally.notes
    assert ev["seen_queued_while_running"], "the second run was never seen waiting (queued) beside the first"
    # Never beside each other: the later run starts after the earlier one ended, and so do its tasks.
    assert ev["late_start"] >= ev["early_end"], ev
    assert ev["late_first_task_start"] >= ev["early_last_task_end"], ev


@pytest.fixture
def mysql2_server() -> Iterator[None]:
    sn.mysql2("start")
    try:
        yield
    finally:
        sn.mysql2("stop")


def test_mariadb_restarted_mid_run_result_exact(api: AirflowApi, mysql2_server: None) -> None:
    tally, ev = sn.mysql_restart(api)
    assert ev["state"] == "success", ev
    assert (tally.lost, tally.doubled) == (0, 0), tally.notes
    assert ev["chunks_ended_after_restart"] > 0, ev  # the restart landed in the middle of the scan
    assert ev["summary"]["rows"] == sn.ROWS and ev["summary"]["chunks"] == 8


@pytest.fixture(scope="module")
def fault_cluster() -> Iterator[Any]:
    cluster = sn.start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


def test_redis_primary_failed_over_mid_sweep_exactly_once(api: AirflowApi, fault_cluster: Any) -> None:
    tally, ev = sn.redis_failover(api, fault_cluster)
    assert ev["state"] == "success", ev
    assert (tally.lost, tally.doubled) == (0, 0), tally.notes
    assert ev["victim_task_ended_after_failover"], ev  # the failover hit a node task mid-sweep
    assert fault_cluster.client(ev["replica"]).info("replication")["role"] == "master"


def test_workers_with_their_own_disks_refuse_then_shared_store_exact(api: AirflowApi, fault_cluster: Any) -> None:
    tally, ev = sn.sweep_on_own_disks(api, fault_cluster)
    # Without a shared store: the tasks on the other worker refuse (no retries), naming the fix.
    assert ev["first"] == "failed", ev["first"]
    assert ev["refused_tasks"], "no task refused"
    assert ev["plan_host"] not in ev["refused_hosts"], ev
    for message in ev["messages"]:
        assert "not shared between workers" in message and "bulkscan_audit_store" in message, message[-1500:]
    # With the store shared again, the cleared run is exact: every key once, the audit lists each once.
    assert ev["second"] == "success", ev["second"]
    assert (tally.lost, tally.doubled) == (0, 0), tally.notes
    assert set().union(*ev["hosts_after"].values()) == stackctl.WORKERS, ev["hosts_after"]
    assert set(ev["audit_rows"]) == ev["applied_truth"]
    assert ev["summary"]["keys_incremented"] == len(ev["applied_truth"])
    assert ev["summary"]["audit_store"] == f"file://{stackctl.SHARED_STORE}/redis-sweep"


@pytest.mark.parametrize("case", sorted(sn.BAD_INPUT))
def test_bad_input_through_the_api_clear_error_no_writes(api: AirflowApi, case: str) -> None:
    tally, message = sn.bad_input_via_api(api, case)
    _, must_mention = sn.BAD_INPUT[case]
    assert must_mention.lower() in message.lower(), message[-2000:]
    assert (tally.lost, tally.doubled) == (0, 0), f"source changed or results written: {tally}"
