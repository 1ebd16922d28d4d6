"""Cluster topology from CLUSTER NODES (parsing is pure): primaries to sweep, slot owners, migrations.

Replicas, failed nodes (`fail`, `fail?`), nodes without address and primaries without slots are not
swept. Slots no healthy primary serves make the plan fail before anything is written, so a sweep never
silently leaves part of the key space out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

from bulkscan.core.sweep import format_slots, slot_ranges
from bulkscan.errors import BulkscanError

SLOTS = 16384
_BAD_FLAGS = {"fail", "fail?", "noaddr", "handshake"}


class NodePlan(TypedDict):
    """One primary to sweep, as its mapped task receives it through XCom."""

    node_id: str
    host: str
    port: int
    label: str
    slots: list[list[int]]
    replicas: NotRequired[list[str]]
    migrating: NotRequired[list[int]]
    keys: NotRequired[int]  # DBSIZE when planned: every key the node holds, an upper bound of the sweep's
    time_limit_s: NotRequired[int]  # the node task's own time limit (bulkscan.core.chunks.chunk_time_limit)


@dataclass(frozen=True)
class NodeInfo:
    """One line of CLUSTER NODES (or the single node of a standalone server)."""

    node_id: str
    host: str
    port: int
    flags: tuple[str, ...]
    primary_id: str | None = None
    slots: tuple[tuple[int, int], ...] = ()
    migrating: tuple[tuple[int, str], ...] = ()  # (slot, target node id)
    importing: tuple[tuple[int, str], ...] = ()  # (slot, source node id)

    @property
    def is_primary(self) -> bool:
        return "master" in self.flags

    @property
    def healthy(self) -> bool:
        return not (_BAD_FLAGS & set(self.flags))

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def label(self) -> str:
        """The mapped task's label: '127.0.0.1:7001 (slots 0-5460)'."""
        if not self.slots and self.node_id == "standalone":
            return f"{self.address} (standalone)"
        return f"{self.address} (slots {format_slots(self.slots)})"

    def slot_set(self) -> set[int]:
        return {s for a, b in self.slots for s in range(a, b + 1)}

    def to_dict(self) -> NodePlan:
        """Small, JSON-safe form for XCom."""
        return NodePlan(
            node_id=self.node_id,
            host=self.host,
            port=self.port,
            label=self.label,
            slots=[list(r) for r in self.slots],
        )


@dataclass(frozen=True)
class Topology:
    """A snapshot of the nodes: which primary serves which slot, and which slots are migrating."""

    cluster: bool
    nodes: tuple[NodeInfo, ...]
    current_epoch: int = 0
    _owner: dict[int, str] = field(default_factory=dict, compare=False, repr=False)

    def primaries(self) -> list[NodeInfo]:
        """Healthy primaries that serve slots (or the standalone node), in slot order."""
        if not self.cluster:
            return list(self.nodes)
        found = [n for n in self.nodes if n.is_primary and n.healthy and n.slots]
        return sorted(found, key=lambda n: n.slots[0][0])

    def node(self, node_id: str) -> NodeInfo | None:
        return next((n for n in self.nodes if n.node_id == node_id), None)

    def owners(self) -> dict[int, str]:
        """slot -> node id of the healthy primary serving it."""
        if not self._owner:
            for n in self.primaries():
                for s in n.slot_set():
                    self._owner[s] = n.node_id
        return self._owner

    def shard_of(self, node_id: str) -> set[str]:
        """A primary and its replicas: a failover inside this set does not move any key."""
        return {node_id} | {n.node_id for n in self.nodes if n.primary_id == node_id}

    def migrating_slots(self) -> set[int]:
        return {s for n in self.nodes for s, _ in n.migrating + n.importing}

    def uncovered_slots(self) -> list[tuple[int, int]]:
        if not self.cluster:
            return []
        owned = self.owners()
        return slot_ranges(s for s in range(SLOTS) if s not in owned)

    def plan(self) -> list[NodePlan]:
        """One small dict per primary to sweep (the mapped tasks' input), with what a later
        comparison needs: its replicas (its shard) and the slots it had in migration."""
        out = []
        for n in self.primaries():
            d = n.to_dict()
            d["replicas"] = sorted(self.shard_of(n.node_id) - {n.node_id})
            d["migrating"] = sorted({s for s, _ in n.migrating + n.importing})
            out.append(d)
        return out

    def require_covered(self) -> None:
        missing = self.uncovered_slots()
        if missing:
            raise BulkscanError(
                f"slots {format_slots(missing)} have no healthy primary: the cluster is not fully up, "
                "refusing to sweep part of the key space"
            )


def parse_cluster_nodes(text: str) -> list[NodeInfo]:
    """Parse the CLUSTER NODES reply (`<id> <ip:port@cport[,hostname]> <flags> <primary> ... <slots>`)."""
    nodes = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        node_id, addr, flags, primary = parts[0], parts[1], tuple(parts[2].split(",")), parts[3]
        hostport = addr.split("@", 1)[0]
        host, _, port = hostport.rpartition(":")
        slots: list[tuple[int, int]] = []
        migrating: list[tuple[int, str]] = []
        importing: list[tuple[int, str]] = []
        for token in parts[8:]:
            if token.startswith("["):
                body = token.strip("[]")
                if "->-" in body:
                    s, other = body.split("->-")
                    migrating.append((int(s), other))
                elif "-<-" in body:
                    s, other = body.split("-<-")
                    importing.append((int(s), other))
            elif "-" in token:
                a, b = token.split("-")
                slots.append((int(a), int(b)))
            else:
                slots.append((int(token), int(token)))
        nodes.append(
            NodeInfo(
                node_id=node_id,
                host=host,
                port=int(port) if port else 0,
                flags=flags,
                primary_id=None if primary == "-" else primary,
                slots=tuple(slot_ranges(s for a, b in slots for s in range(a, b + 1))),
                migrating=tuple(migrating),
                importing=tuple(importing),
            )
        )
    return nodes


def changed_slots(planned: Topology, now: Topology) -> set[int]:
    """Slots whose keys may have moved between nodes since `planned`: owner left its shard, or a
    migration was (or is) in progress. A failover inside a shard moves no key and is not a change."""
    before, after = planned.owners(), now.owners()
    out = planned.migrating_slots() | now.migrating_slots()
    for s in range(SLOTS) if planned.cluster else ():
        old, new = before.get(s), after.get(s)
        if old != new and (old is None or new is None or new not in planned.shard_of(old)):
            out.add(s)
    return out


def topology_from_dicts(cluster: bool, nodes: Iterable[Mapping[str, Any]]) -> Topology:
    """Rebuild a (partial) topology from XCom plan entries: enough to compare slot owners later."""
    infos = []
    for d in nodes:
        infos.append(
            NodeInfo(
                node_id=d["node_id"],
                host=d["host"],
                port=int(d["port"]),
                flags=("master",),
                slots=tuple((int(a), int(b)) for a, b in d.get("slots", [])),
                migrating=tuple((int(s), "?") for s in d.get("migrating", [])),
            )
        )
        infos.extend(
            NodeInfo(node_id=r, host="", port=0, flags=("slave",), primary_id=d["node_id"])
            for r in d.get("replicas", [])
        )
    return Topology(cluster=cluster, nodes=tuple(infos))
