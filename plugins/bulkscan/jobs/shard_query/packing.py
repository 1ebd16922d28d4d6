"""Packing a shard fan-out into mapped tasks, and reconciling their answers (pure, no I/O).

Every shard table (or chunk of a big one) is one `ShardItem`; items of one host are packed into
`ShardUnit`s, one per mapped task; each finished item reports an `Answer`, and `reconcile` proves
every topology table answered exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

from bulkscan.core.chunks import Chunk, ChunkPayload
from bulkscan.core.identifiers import validate_identifier
from bulkscan.core.values import positive_int
from bulkscan.errors import ReconcileError
from bulkscan.jobs.shard_query.topology import Topology


def group_tables(tables: Sequence[str], tables_per_task: int) -> list[tuple[str, ...]]:
    """Consecutive groups of at most `tables_per_task` tables (small shards share one task)."""
    positive_int(tables_per_task, "group size")
    return [tuple(tables[i : i + tables_per_task]) for i in range(0, len(tables), tables_per_task)]


def group_label(conn_id: str, tables: Sequence[str]) -> str:
    """'conn / table_017' for one table, 'conn / table_000..table_003' for a group."""
    if len(tables) == 1:
        return f"{conn_id} / {tables[0]}"
    return f"{conn_id} / {tables[0]}..{tables[-1]}"


class ItemPayload(TypedDict):
    index: int
    table: str
    chunk: ChunkPayload | dict[str, Any] | None
    parts: int


class UnitPayload(TypedDict):
    """A unit as its mapped task receives it through XCom (`label` added by the plan task)."""

    conn_id: str
    database: str
    items: list[ItemPayload]
    label: NotRequired[str]
    time_limit_s: NotRequired[int]  # the task's own time limit (bulkscan.core.chunks.chunk_time_limit)


class AnswerPayload(TypedDict):
    conn_id: str
    table: str
    index: int
    parts: int
    rows: int


@dataclass(frozen=True)
class ShardItem:
    """One piece of work: a whole shard table (chunk None: planned when it runs) or one ID range of it.

    `index` is unique within a run, so results keyed by (run, index) are replaced on retry.
    `parts` is how many chunks the table was planned into (1 for a whole table).
    """

    index: int
    table: str
    chunk: Chunk | None = None
    parts: int = 1

    def as_dict(self) -> ItemPayload:
        chunk = self.chunk.as_dict() if self.chunk else None
        return ItemPayload(index=self.index, table=self.table, chunk=chunk, parts=self.parts)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShardItem:
        chunk = Chunk.from_dict(data["chunk"]) if data.get("chunk") else None
        return cls(
            int(data["index"]),
            validate_identifier(data["table"], "shard table"),
            chunk,
            int(data.get("parts", 1)),
        )


@dataclass(frozen=True)
class ShardUnit:
    """What one mapped task does: items of ONE host (k small tables, or one chunk of a big table)."""

    conn_id: str
    database: str
    items: tuple[ShardItem, ...]

    @property
    def label(self) -> str:
        """'conn / table_017', 'conn / table_005 ids 1-800,000' (chunks of one table), or
        'conn / table_000..table_031' (a group)."""
        tables = list(dict.fromkeys(i.table for i in self.items))
        first, last = self.items[0].chunk, self.items[-1].chunk
        if len(tables) == 1 and first is not None and last is not None and self.items[0].parts > 1:
            return f"{self.conn_id} / {tables[0]} {Chunk(0, first.lo, last.hi).label}"
        return group_label(self.conn_id, tables)

    @property
    def planned_rows(self) -> int | None:
        """The rows the plan expects the unit to read (the estimates of its tables and chunks), None when
        an item's size is unknown."""
        rows = [i.chunk.rows if i.chunk else None for i in self.items]
        return None if any(r is None for r in rows) else sum(r or 0 for r in rows)

    def as_dict(self) -> UnitPayload:
        return UnitPayload(conn_id=self.conn_id, database=self.database, items=[i.as_dict() for i in self.items])

    def payload(self, label: str | None = None) -> UnitPayload:
        """The mapped task's input: the unit and the label the Grid shows for it."""
        return UnitPayload(**self.as_dict(), label=label or self.label)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShardUnit:
        return cls(
            str(data["conn_id"]),
            validate_identifier(data["database"], "database"),
            tuple(ShardItem.from_dict(i) for i in data["items"]),
        )


TableKey = tuple[str, str]  # (conn_id, table)


def build_units(
    topology: Topology,
    plans: Mapping[TableKey, Sequence[Chunk] | None],
    group_size: int | None = 1,
    units_per_host: int = 4,
) -> list[ShardUnit]:
    """One flat fan-out of items: a whole small table, or one chunk of a big one.

    With `group_size` 1 every item is its own unit (mapped task). With k > 1 a host's items, in table
    order, are packed into ceil(n / k) units of near-equal counts: a unit's items run side by side
    within the per-host cap, so the chunks of a big shard still run in parallel, not one after another.
    With `group_size` None (the DAG's default) each host's items go into `units_per_host` units: a
    task's start-up costs about half a second on a real scheduler, 128 one-table tasks cost a minute.
    `plans[(conn_id, table)]` is the planner's chunks, or None when the host could not be planned
    (it was down): that table becomes one whole-table item and is planned when its task runs.
    Units are ordered round-robin over hosts, so the first tasks to start load every host.
    """
    if group_size is not None:
        group_tables([], group_size)  # validates group_size
    per_host: list[list[ShardUnit]] = []
    index = 0
    for host in topology.hosts:
        items: list[ShardItem] = []
        for table in host.tables:
            chunks = plans.get((host.conn_id, table))
            if chunks is not None and len(chunks) > 1:
                for c in chunks:
                    items.append(ShardItem(index, table, c, len(chunks)))
                    index += 1
            else:
                items.append(ShardItem(index, table, chunks[0] if chunks else None, 1))
                index += 1
        groups = max(1, -(-len(items) // group_size) if group_size else min(len(items), units_per_host))
        size, extra = divmod(len(items), groups)
        units: list[ShardUnit] = []
        start = 0
        for g in range(groups):
            end = start + size + (1 if g < extra else 0)
            if end > start:
                units.append(ShardUnit(host.conn_id, host.database, tuple(items[start:end])))
            start = end
        per_host.append(units)
    ordered: list[ShardUnit] = []
    for i in range(max((len(u) for u in per_host), default=0)):
        ordered.extend(units[i] for units in per_host if i < len(units))
    return ordered


@dataclass(frozen=True)
class Answer:
    """What a finished item reports (small, goes through XCom)."""

    conn_id: str
    table: str
    index: int
    parts: int
    rows: int

    def as_dict(self) -> AnswerPayload:
        return AnswerPayload(conn_id=self.conn_id, table=self.table, index=self.index, parts=self.parts, rows=self.rows)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Answer:
        return cls(
            str(data["conn_id"]),
            str(data["table"]),
            int(data["index"]),
            int(data["parts"]),
            int(data["rows"]),
        )


def reconcile(topology: Topology, units: Sequence[ShardUnit], answers: Iterable[Answer]) -> dict[str, int]:
    """Every topology table answered exactly once (every chunk of a chunked table exactly once).

    Returns rows per 'conn / table'. Raises ReconcileError naming what is missing, duplicated or foreign.
    """
    expected: dict[int, TableKey] = {i.index: (u.conn_id, i.table) for u in units for i in u.items}
    planned_tables = set(expected.values())
    topo_tables = {(t.conn_id, t.table) for t in topology.tables}
    problems: list[str] = []
    if planned_tables != topo_tables:
        lost = sorted(topo_tables - planned_tables)
        extra = sorted(planned_tables - topo_tables)
        if lost:
            problems.append("not planned (appeared after the plan?): " + ", ".join(f"{c} / {t}" for c, t in lost))
        if extra:
            problems.append(
                "planned but not in the topology now (vanished?): " + ", ".join(f"{c} / {t}" for c, t in extra)
            )
    seen: dict[int, Answer] = {}
    rows: dict[str, int] = {f"{c} / {t}": 0 for c, t in sorted(topo_tables)}
    for a in answers:
        key = (a.conn_id, a.table)
        if expected.get(a.index) != key:
            problems.append(f"unexpected answer {a.conn_id} / {a.table} #{a.index}")
            continue
        if a.index in seen:
            problems.append(f"{a.conn_id} / {a.table} #{a.index} answered twice")
            continue
        seen[a.index] = a
        rows[f"{a.conn_id} / {a.table}"] += a.rows
    missing = sorted({expected[i] for i in set(expected) - set(seen)})
    if missing:
        problems.append("no answer from: " + ", ".join(f"{c} / {t}" for c, t in missing))
    if problems:
        raise ReconcileError("shard results do not reconcile: " + "; ".join(problems))
    return rows
