"""CLUSTER NODES parsing and the plan: primaries only, replicas and failed nodes skipped (pure)."""

from __future__ import annotations

import pytest

from bulkscan.errors import BulkscanError
from bulkscan.redisnodes.topology import Topology, changed_slots, parse_cluster_nodes, topology_from_dicts

NODES = """\
aaa 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460 [100->-bbb]
bbb 127.0.0.1:7002@17002 master - 0 0 2 connected 5461-10922 [100-<-aaa]
ccc 127.0.0.1:7003@17003 master - 0 0 3 connected 10923-16383
ddd 127.0.0.1:7004@17004 slave aaa 0 0 1 connected
eee 127.0.0.1:7005@17005 slave bbb 0 0 2 connected
fff 127.0.0.1:7006@17006 master,fail - 0 0 6 disconnected
"""


def topo(text: str = NODES) -> Topology:
    return Topology(cluster=True, nodes=tuple(parse_cluster_nodes(text)))


def test_plan_has_primaries_only_with_labels_and_shards() -> None:
    plan = topo().plan()
    assert [p["label"] for p in plan] == [
        "127.0.0.1:7001 (slots 0-5460)",
        "127.0.0.1:7002 (slots 5461-10922)",
        "127.0.0.1:7003 (slots 10923-16383)",
    ]
    assert plan[0]["replicas"] == ["ddd"] and plan[0]["migrating"] == [100]
    assert plan[2]["replicas"] == [] and plan[2]["migrating"] == []
    assert topo().uncovered_slots() == []


def test_failed_primary_with_slots_refuses_to_plan() -> None:
    text = NODES.replace("ccc 127.0.0.1:7003@17003 master", "ccc 127.0.0.1:7003@17003 master,fail")
    t = topo(text)
    assert [n.port for n in t.primaries()] == [7001, 7002]
    with pytest.raises(BulkscanError, match="10923-16383"):
        t.require_covered()


def test_failover_inside_a_shard_is_no_change_but_a_migration_is() -> None:
    plan = topology_from_dicts(True, topo(NODES.replace(" [100->-bbb]", "").replace(" [100-<-aaa]", "")).plan())
    failover = NODES.replace(
        "aaa 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460",
        "aaa 127.0.0.1:7001@17001 myself,slave ddd 0 0 1 connected",
    )
    failover = failover.replace(
        "ddd 127.0.0.1:7004@17004 slave aaa 0 0 1 connected",
        "ddd 127.0.0.1:7004@17004 master - 0 0 7 connected 0-5460",
    )
    failover = failover.replace(" [100->-bbb]", "").replace(" [100-<-aaa]", "")
    assert changed_slots(plan, topo(failover)) == set()
    moved = NODES.replace("0-5460 [100->-bbb]", "0-99 101-5460").replace("5461-10922 [100-<-aaa]", "100 5461-10922")
    assert changed_slots(plan, topo(moved)) == {100}
    assert changed_slots(plan, topo()) == {100}  # still migrating
