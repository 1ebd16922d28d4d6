"""Shard topology: which tables of one logical table live on which host (pure, no I/O).

Users declare shards per host in the compact form of the scripts they run today
(`"table_000-015"`), or as explicit lists. Everything is validated up front, so an overlapping
range, a duplicate table or a typo in the zero padding is an error before any query runs; a table
name is only ever put into SQL after it matched this topology (and the identifier pattern).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulkscan.core.identifiers import validate_identifier
from bulkscan.core.values import CONN_ID_PATTERN
from bulkscan.errors import BulkscanInputError

# Airflow connection ids: letters, digits, '_', '-', '.' (no spaces, no slashes).
_CONN_ID = re.compile(CONN_ID_PATTERN)
_RANGE = re.compile(r"^(?P<prefix>[A-Za-z_][A-Za-z0-9_$]*?)(?P<lo>\d+)-(?P<hi>\d+)$")
MAX_TABLES_PER_RANGE = 100_000


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
    """One host (an Airflow connection id), its database and its shard tables in declared order."""

    conn_id: str
    database: str
    tables: tuple[str, ...]


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


def expand_range(spec: str) -> list[str]:
    """'table_000-015' -> ['table_000', ..., 'table_015']; a plain name -> [name].

    Zero padding is taken from the low end; the high end must have the same width (the seed
    script's 'table_096-0111' is rejected, not guessed). Unpadded ranges ('t_8-12') are fine.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise BulkscanInputError(f"a shard table or range must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    m = _RANGE.match(spec)
    if not m:
        if "-" in spec:
            raise BulkscanInputError(f"bad shard range {spec!r}: use prefix_NNN-MMM, e.g. 'table_000-015'")
        return [validate_identifier(spec, "shard table")]
    prefix, lo_s, hi_s = m["prefix"], m["lo"], m["hi"]
    lo, hi = int(lo_s), int(hi_s)
    padded = len(lo_s) > 1 and lo_s.startswith("0")
    if padded and len(hi_s) != len(lo_s):
        raise BulkscanInputError(
            f"bad shard range {spec!r}: {lo_s!r} and {hi_s!r} differ in zero padding "
            f"(write both ends with {len(lo_s)} digits)"
        )
    if not padded and hi_s.startswith("0") and len(hi_s) > 1:
        raise BulkscanInputError(f"bad shard range {spec!r}: only the high end is zero padded")
    if hi < lo:
        raise BulkscanInputError(f"bad shard range {spec!r}: the high end {hi} is below the low end {lo}")
    if hi - lo + 1 > MAX_TABLES_PER_RANGE:
        raise BulkscanInputError(f"bad shard range {spec!r}: more than {MAX_TABLES_PER_RANGE:,} tables")
    width = len(lo_s) if padded else 0
    names = [f"{prefix}{n:0{width}d}" for n in range(lo, hi + 1)]
    for name in (names[0], names[-1]):
        validate_identifier(name, "shard table")
    return names


def _host_entry(conn_id: str, entry: object, default_db: str | None) -> tuple[str, list[str]]:
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
        for spec in specs:
            for name in expand_range(spec):
                if name in seen:
                    other_conn, other_spec = seen[name]
                    where = "twice on the same host" if other_conn == conn_id else f"also on {other_conn!r}"
                    raise BulkscanInputError(
                        f"shard table {name!r} of {conn_id!r} ({spec!r}) overlaps {other_spec!r} ({where})"
                    )
                seen[name] = (conn_id, str(spec))
                tables.append(name)
        hosts.append(Host(conn_id, database, tuple(tables)))
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
