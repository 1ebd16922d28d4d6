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
class TableRange:
    """Tables prefix + n for lo <= n <= hi, n written with any zero padding ('table_096-0111')."""

    prefix: str
    lo: int
    hi: int
    width: int  # the low end's digits: how the names are spelled when there is no listing to resolve against
    written: str = ""  # as the user wrote it, for messages

    def names(self) -> list[str]:
        return [f"{self.prefix}{n:0{self.width}d}" for n in range(self.lo, self.hi + 1)]

    def number(self, name: str) -> int | None:
        """n if `name` is this range's prefix followed by digits (any padding) with lo <= n <= hi."""
        if not name.startswith(self.prefix):
            return None
        digits = name[len(self.prefix) :]
        if not digits.isascii() or not digits.isdigit():
            return None
        n = int(digits)
        return n if self.lo <= n <= self.hi else None

    def resolve(self, existing: Collection[str]) -> tuple[list[str], list[str], list[str]]:
        """(names found, in number order; numbers with no table; numbers spelled by two tables)."""
        by_number: dict[int, list[str]] = {}
        for name in existing:
            n = self.number(name)
            if n is not None:
                by_number.setdefault(n, []).append(name)
        found: list[str] = []
        missing: list[str] = []
        ambiguous: list[str] = []
        for n in range(self.lo, self.hi + 1):
            spellings = sorted(by_number.get(n, []))
            if len(spellings) > 1:
                ambiguous.append(f"{' and '.join(spellings)} are both table {n} of {self.written!r}")
            elif spellings:
                found.append(spellings[0])
            else:
                missing.append(f"{self.prefix}{n:0{self.width}d}")
        return found, missing, ambiguous


@dataclass(frozen=True)
class TablePattern:
    """Tables discovered on the host: a SQL LIKE pattern or a regular expression (full match)."""

    kind: str  # "like" | "regex"
    pattern: str

    def matches(self, name: str) -> bool:
        return re.fullmatch(self.regex(), name) is not None

    def regex(self) -> str:
        if self.kind == "regex":
            return self.pattern
        out, escaped = [], False
        for ch in self.pattern:
            if escaped:
                out.append(re.escape(ch))
                escaped = False
            elif ch == "\\":
                escaped = True
            else:
                out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        return "".join(out)

    def __str__(self) -> str:
        return f"{self.kind} {self.pattern!r}"


Selector = str | TableRange | TablePattern  # a table name, a numbered range, or a pattern


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


def expand_range(spec: str) -> list[str]:
    """'table_000-015' -> ['table_000', ..., 'table_015']; a plain name -> [name] (as written: the
    low end's padding; `resolve_host` then finds how the server spells each one)."""
    sel = parse_selector(spec)
    return sel.names() if isinstance(sel, TableRange) else [str(sel)]


def parse_selector(spec: object) -> Selector:
    """A name, a range 'prefix_LO-HI' (any zero padding on either end), or {"like"|"regex": pattern}."""
    if isinstance(spec, Mapping):
        return _pattern(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise BulkscanInputError(f"a shard table or range must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    m = _RANGE.match(spec)
    if not m:
        if "-" in spec:
            raise BulkscanInputError(f"bad shard range {spec!r}: use prefix_NNN-MMM, e.g. 'table_000-015'")
        return validate_identifier(spec, "shard table")
    prefix, lo_s, hi_s = m["prefix"], m["lo"], m["hi"]
    lo, hi = int(lo_s), int(hi_s)
    if hi < lo:
        raise BulkscanInputError(f"bad shard range {spec!r}: the high end {hi} is below the low end {lo}")
    if hi - lo + 1 > MAX_TABLES_PER_RANGE:
        raise BulkscanInputError(f"bad shard range {spec!r}: more than {MAX_TABLES_PER_RANGE:,} tables")
    rng = TableRange(prefix, lo, hi, len(lo_s) if len(lo_s) > 1 and lo_s.startswith("0") else 0, spec)
    for name in (rng.names()[0], rng.names()[-1]):
        validate_identifier(name, "shard table")
    return rng


def _pattern(spec: Mapping[str, Any]) -> TablePattern:
    if len(spec) != 1 or next(iter(spec)) not in ("like", "regex"):
        raise BulkscanInputError(
            f'a table pattern is {{"like": "table_%"}} or {{"regex": "^table_[0-9]+$"}}, got {spec!r}'
        )
    kind, pattern = next(iter(spec.items()))
    if not isinstance(pattern, str) or not pattern.strip():
        raise BulkscanInputError(f"table pattern {kind!r} needs a non-empty string, got {pattern!r}")
    if kind == "regex":
        try:
            re.compile(pattern)
        except re.error as exc:
            raise BulkscanInputError(f"bad table regex {pattern!r}: {exc}") from exc
    return TablePattern(kind, pattern)


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
            found = sorted((t for t in existing if sel.matches(t)), key=_natural)
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


def _written(sel: Selector) -> list[str]:
    """The names a selector spells as written (a pattern's are known once the host is listed)."""
    if isinstance(sel, TablePattern):
        return []
    return sel.names() if isinstance(sel, TableRange) else [sel]


def _natural(name: str) -> tuple[Any, ...]:
    """'t_2' before 't_10': digit runs compare as numbers."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


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
            for name in _written(sel):
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
