"""Shard topology: which tables of one logical table live on which host (pure, no I/O).

Users declare shards per host as they write them in the scripts they run today: a range
(`"table_000-015"`, or the seed's `"table_096-0111"`, meaning tables 96..111), explicit names, or a
pattern that discovers them (`{"like": "table_%"}`, `{"regex": "^table_[0-9]+$"}`). Ranges and
patterns are *resolved* against the tables that exist on the host (`resolve_host`, given the
host's information_schema listing): a range's number n is the one existing table named prefix + n
with any zero padding, so the padding the user wrote does not have to match the server's. What
cannot be resolved exactly (no such table, or two spellings of one number) is an error naming it.
Everything is validated before any scan runs; a table name is only ever put into SQL after it
matched this topology (and the identifier pattern).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bulkscan.core.identifiers import validate_identifier
from bulkscan.core.values import CONN_ID_PATTERN
from bulkscan.errors import BulkscanInputError
from bulkscan.jobs.shard_query.selectors import (
    Selector,
    TablePattern,
    TableRange,
    expand_range,
    natural_order,
    parse_selector,
    written_names,
)

__all__ = ["Host", "ShardTable", "Topology", "expand_range", "load_topology", "parse_topology", "resolve_host"]

# Airflow connection ids: letters, digits, '_', '-', '.' (no spaces, no slashes).
_CONN_ID = re.compile(CONN_ID_PATTERN)


@dataclass(frozen=True)
class ShardTable:
    """One shard table on one host."""

    conn_id: str
    database: str
    table: str

    @property
    def label(self) -> str:
        """What the Airflow UI shows: 'host-conn / table_017'."""
        return f"{self.conn_id} / {self.table}"


@dataclass(frozen=True)
class Host:
    """One host (an Airflow connection id), its database and its shard tables in declared order.

    `tables` are the names as written until `resolve_host` replaces them by what exists on the host
    (a pattern has none before); `selectors` keep what the user wrote, so any task can check that a
    table it is handed belongs to this host (`admits`) without listing the server again.
    """

    conn_id: str
    database: str
    tables: tuple[str, ...]
    selectors: tuple[Selector, ...] = ()

    @property
    def discovers(self) -> bool:
        """True when a pattern names tables that only the host's listing can tell."""
        return any(isinstance(s, TablePattern) for s in self.selectors)

    def admits(self, table: str) -> bool:
        """Whether `table` is one this host's declaration covers (a name, a range's number, a pattern)."""
        if not self.selectors:
            return table in self.tables
        for sel in self.selectors:
            if isinstance(sel, str) and sel == table:
                return True
            if isinstance(sel, TableRange) and sel.number(table) is not None:
                return True
            if isinstance(sel, TablePattern) and sel.matches(table):
                return True
        return False


@dataclass(frozen=True)
class Topology:
    hosts: tuple[Host, ...]

    @property
    def conn_ids(self) -> tuple[str, ...]:
        return tuple(h.conn_id for h in self.hosts)

    @property
    def tables(self) -> list[ShardTable]:
        return [ShardTable(h.conn_id, h.database, t) for h in self.hosts for t in h.tables]

    def host(self, conn_id: str) -> Host:
        for h in self.hosts:
            if h.conn_id == conn_id:
                return h
        raise BulkscanInputError(f"connection id {conn_id!r} is not in the topology")

    def as_dict(self) -> dict[str, Any]:
        """Explicit, JSON-able form (round-trips through parse_topology)."""
        return {"hosts": {h.conn_id: {"database": h.database, "tables": list(h.tables)} for h in self.hosts}}


def resolve_host(host: Host, existing: Collection[str]) -> Host:
    """The host with its tables as they exist: each name present, each range number spelled by exactly
    one existing table, each pattern's matches (in natural order). Raises naming what is missing or
    ambiguous, so a typo or a half-created shard never becomes a silent miss."""
    names: list[str] = []
    missing: list[str] = []
    ambiguous: list[str] = []
    for sel in host.selectors or host.tables:
        if isinstance(sel, str):
            (names if sel in existing else missing).append(sel)
        elif isinstance(sel, TableRange):
            found, lost, doubled = sel.resolve(existing)
            names += found
            missing += lost
            ambiguous += doubled
        else:
            found = sorted((t for t in existing if sel.matches(t)), key=natural_order)
            if not found:
                missing.append(f"any table matching {sel}")
            names.extend(validate_identifier(t, "shard table") for t in found)
    where = f"host {host.conn_id!r} ({host.database})"
    if ambiguous:
        raise BulkscanInputError(f"{where}: ambiguous shard tables: " + "; ".join(ambiguous[:5]))
    if missing:
        raise BulkscanInputError(
            f"{where}: {len(missing)} topology table(s) missing in {host.database}: "
            + ", ".join(missing[:10])
            + (" ..." if len(missing) > 10 else "")
        )
    doubled = sorted({t for t in names if names.count(t) > 1})
    if doubled:
        raise BulkscanInputError(f"{where}: tables declared twice: {', '.join(doubled)}")
    return replace(host, tables=tuple(names))


def _host_entry(conn_id: str, entry: object, default_db: str | None) -> tuple[str, list[Any]]:
    specs: Any
    if isinstance(entry, str | list | tuple):
        database, specs = default_db, entry
    elif isinstance(entry, Mapping):
        unknown = set(entry) - {"database", "tables"}
        if unknown:
            raise BulkscanInputError(f"host {conn_id!r}: unknown keys {sorted(unknown)} (use database, tables)")
        database, specs = entry.get("database", default_db), entry.get("tables")
    else:
        raise BulkscanInputError(f"host {conn_id!r}: expected a range string, a list or {{database, tables}}")
    if not database:
        raise BulkscanInputError(f"host {conn_id!r}: no database (set it per host or at the top level)")
    validate_identifier(database, f"database of host {conn_id!r}")
    if isinstance(specs, str):
        specs = [s for s in re.split(r"[,\s]+", specs) if s]
    elif isinstance(specs, Mapping):
        specs = [specs]
    if not isinstance(specs, list | tuple) or not specs:
        raise BulkscanInputError(f"host {conn_id!r}: no shard tables declared")
    return database, list(specs)


def parse_topology(data: object) -> Topology:
    """Validate a topology: {"database": default, "hosts": {conn_id: ranges | [..] | {database, tables}}}.

    Each table name belongs to exactly one host: a table declared twice (on one host or on two) is
    an error naming both places, because the merged result must count every shard exactly once.
    """
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise BulkscanInputError(f"topology is not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping) or not isinstance(data.get("hosts"), Mapping) or not data["hosts"]:
        raise BulkscanInputError('topology must be an object with a non-empty "hosts" mapping')
    unknown = set(data) - {"database", "hosts", "description"}
    if unknown:
        raise BulkscanInputError(f"topology: unknown keys {sorted(unknown)} (use database, hosts)")
    default_db = data.get("database")
    seen: dict[str, tuple[str, str]] = {}  # table -> (conn_id, spec)
    hosts: list[Host] = []
    for conn_id, entry in data["hosts"].items():
        if not isinstance(conn_id, str) or not _CONN_ID.match(conn_id):
            raise BulkscanInputError(f"bad connection id {conn_id!r}")
        database, specs = _host_entry(conn_id, entry, default_db)
        tables: list[str] = []
        selectors = [parse_selector(spec) for spec in specs]
        for spec, sel in zip(specs, selectors, strict=True):
            for name in written_names(sel):
                if name in seen:
                    other_conn, other_spec = seen[name]
                    where = "twice on the same host" if other_conn == conn_id else f"also on {other_conn!r}"
                    raise BulkscanInputError(
                        f"shard table {name!r} of {conn_id!r} ({spec!r}) overlaps {other_spec!r} ({where})"
                    )
                seen[name] = (conn_id, str(spec))
                tables.append(name)
        hosts.append(Host(conn_id, database, tuple(tables), tuple(selectors)))
    return Topology(tuple(hosts))


def load_topology(source: str | Path | Mapping[str, Any], base_dir: Path | None = None) -> Topology:
    """From a mapping, inline JSON text, or a .json file (relative paths are under `base_dir`)."""
    if isinstance(source, Mapping):
        return parse_topology(source)
    text = str(source).strip()
    if text.startswith("{"):
        return parse_topology(text)
    path = Path(text)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if base_dir is not None and not path.resolve().is_relative_to(base_dir.resolve()):
        raise BulkscanInputError(f"topology file {text!r} is outside {base_dir}")
    if path.suffix != ".json" or not path.is_file():
        raise BulkscanInputError(f"topology file {text!r} not found (a .json file under {base_dir or '.'})")
    return parse_topology(path.read_text())


def check_connections(topology: Topology, known: Iterable[str]) -> None:
    """Every host must be a known connection id (all unknown ones named at once)."""
    known_set = set(known)
    missing = [c for c in topology.conn_ids if c not in known_set]
    if missing:
        raise BulkscanInputError(f"unknown connection id(s) {', '.join(map(repr, missing))} in the topology")
