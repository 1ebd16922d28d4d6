"""How a host's shard tables are written: a name, a numbered range ('table_096-0111': tables 96..111,
in any zero padding), or a pattern that discovers them (pure: no I/O). `topology.resolve_host` matches
them against what a host has."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from bulkscan.core.identifiers import validate_identifier
from bulkscan.errors import BulkscanInputError

_RANGE = re.compile(r"^(?P<prefix>[A-Za-z_][A-Za-z0-9_$]*?)(?P<lo>\d+)-(?P<hi>\d+)$")
MAX_TABLES_PER_RANGE = 100_000


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


def written_names(sel: Selector) -> list[str]:
    """The names a selector spells as written (a pattern's are known once the host is listed)."""
    if isinstance(sel, TablePattern):
        return []
    return sel.names() if isinstance(sel, TableRange) else [sel]


def natural_order(name: str) -> tuple[Any, ...]:
    """'t_2' before 't_10': digit runs compare as numbers."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))
