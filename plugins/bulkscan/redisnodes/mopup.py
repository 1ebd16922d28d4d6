"""Mop-up after a cluster sweep: re-list and apply the slots whose keys may have changed node since the
plan (resharding during the sweep), until one round starts and ends on the same topology."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import redis

from bulkscan.core.sweep import SweepCounts, SweepSpec, glob_to_regex
from bulkscan.errors import ReconcileError
from bulkscan.redisnodes.audit import AuditWriter, StorePath
from bulkscan.redisnodes.connect import RedisSettings, discover_stable
from bulkscan.redisnodes.pagescript import PageScript
from bulkscan.redisnodes.sweeper import MOP_UP_LABEL, SweepHooks, SweepPass
from bulkscan.redisnodes.topology import Topology, changed_slots, topology_from_dicts


def _keys_in_slots(client: redis.Redis, slots: Iterable[int]) -> list[bytes]:
    """Every key of the given slots held by this node (COUNTKEYSINSLOT then GETKEYSINSLOT, pipelined)."""
    slots = sorted(slots)
    pipe = client.pipeline(transaction=False)
    for s in slots:
        pipe.execute_command("CLUSTER", "COUNTKEYSINSLOT", s)
    counts = pipe.execute()
    pipe = client.pipeline(transaction=False)
    busy = [(s, n) for s, n in zip(slots, counts, strict=False) if n]
    for s, n in busy:
        pipe.execute_command("CLUSTER", "GETKEYSINSLOT", s, n)
    return [k for keys in pipe.execute() for k in keys] if busy else []


def mop_up(
    settings: RedisSettings,
    plan: list[Mapping[str, Any]],
    spec: SweepSpec,
    run_token: str,
    store: StorePath,
    max_rounds: int = 5,
) -> dict[str, Any]:
    """Re-list and apply the slots whose keys may have changed node since the plan (resharding during
    the sweep), until one round starts and ends on the same topology. Idempotent thanks to the marker."""
    planned = topology_from_dicts(True, plan)
    if not plan or plan[0].get("node_id") == "standalone":
        return {"label": MOP_UP_LABEL, "rounds": 0, "slots": 0, **SweepCounts().to_dict()}
    script = PageScript(spec, run_token)
    match = glob_to_regex(spec.pattern)
    writer = AuditWriter(store, run_token, MOP_UP_LABEL)
    sweep = SweepPass(settings, script, writer, SweepHooks())
    rounds = total_slots = 0
    try:
        while True:
            now = discover_stable(settings)
            todo = changed_slots(planned, now)
            if not todo:
                break
            rounds += 1
            if rounds > max_rounds:
                raise ReconcileError(f"topology still changing after {max_rounds} mop-up rounds")
            total_slots += len(todo)
            _mop_round(settings, now, todo, match, spec, sweep)
            after = discover_stable(settings)
            # Same owners and the same migrations as when the round began: every key of those slots was
            # on a node the round listed (a migrating slot's source is listed before its target).
            if after.owners() == now.owners() and after.migrating_slots() == now.migrating_slots():
                break
            planned = now
    except BaseException:
        writer.abort()
        sweep.close()
        raise
    sweep.close()
    path = writer.commit()
    return {
        "label": MOP_UP_LABEL,
        "rounds": rounds,
        "slots": total_slots,
        "audit": str(path),
        **sweep.counts.to_dict(),
    }


def _mop_round(
    settings: RedisSettings, now: Topology, todo: set[int], match: Any, spec: SweepSpec, sweep: SweepPass
) -> None:
    """List the keys of `todo` on every primary that holds some (owner and importing node)."""
    importing = {n.node_id: {s for s, _ in n.importing} for n in now.nodes}
    for n in now.nodes:  # a migration's target holds keys of the slot too, whoever reported it
        for s, target in n.migrating:
            importing.setdefault(target, set()).add(s)
    nodes = now.primaries() + [n for n in now.nodes if n.importing and n not in now.primaries()]
    # Keys only move from a migrating node to an importing one: list the importing nodes last, so a key
    # moving meanwhile is either in an earlier list (then redirected by the script) or in a later one.
    nodes.sort(key=lambda n: bool(importing.get(n.node_id, set()) & todo))
    for node in nodes:
        mine = (node.slot_set() | {s for s, _ in node.migrating} | importing.get(node.node_id, set())) & todo
        if not mine:
            continue
        client = settings.node_client(node.host, node.port)
        try:
            keys = [k for k in _keys_in_slots(client, mine) if match.match(k)]
            asking = bool(importing.get(node.node_id, set()) & mine)
            for i in range(0, len(keys), spec.scan_count):
                sweep.page(client, keys[i : i + spec.scan_count], asking=asking)
        finally:
            client.close()
