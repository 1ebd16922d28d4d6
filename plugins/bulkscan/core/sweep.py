"""The Redis sweep engine's rules (pure, no I/O): what a sweep applies, what it counts, how audits are named.

Shared by the Redis sweep job and member scoring's points fold (both run bulkscan.redisnodes.sweeper):
the per-key status codes include/redis/sweep_page.lua returns, the spec validation, the summary
counters, the audit file names and the slot helpers. The increment rule itself, as a Python reference,
is bulkscan.jobs.redis_sweep.rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bulkscan.errors import BulkscanInputError

# Status codes the sweep script returns per key (one letter each, see sweep_page.lua).
APPLIED = "A"  # increment applied now, marker set in the same script call
DONE_BEFORE = "D"  # marker already holds this run: applied earlier in this run (SCAN duplicate, retry)
MISSING = "M"  # source field missing (or the key vanished between SCAN and the script)
ZERO = "Z"  # source is "0": nothing to add, key untouched
NEGATIVE = "N"  # source is a negative integer: never applied (the seed only adds positive values)
NOT_INTEGER = "I"  # source is not a canonical 64-bit integer ("1.5", "abc", "007", "+3", overflow)
TARGET_NOT_INTEGER = "T"  # target field holds a non-integer: HINCRBY refused, key untouched
OVERFLOW = "O"  # target + increment would overflow int64: HINCRBY refused, key untouched
WRONG_TYPE = "W"  # the key is not a hash
REDIRECT = "R"  # the key's slot is not served here any more (MOVED/ASK): retried through the cluster
SAME_PASS = "S"  # this very pass applied the key already: a SCAN duplicate, no second audit row
# Order of the per-page counters the script returns in scan mode.
SCAN_COUNT_ORDER = (APPLIED, DONE_BEFORE, "M", "Z", "N", "I", "T", "O", "W", SAME_PASS)

SKIP_REASONS: dict[str, str] = {
    MISSING: "missing",
    ZERO: "zero",
    NEGATIVE: "negative",
    NOT_INTEGER: "not_integer",
    TARGET_NOT_INTEGER: "target_not_integer",
    OVERFLOW: "overflow",
    WRONG_TYPE: "wrong_type",
}

_FIELD = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
_TOKEN_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-+]+")


@dataclass(frozen=True)
class SweepSpec:
    """What one sweep does: for keys matching `pattern`, target += source, once per run (marker field)."""

    pattern: str = "*"
    source_field: str = "field_1"
    target_field: str = "field_2"
    marker_field: str = "_bulkscan_sweep"
    scan_count: int = 1000
    key_type: str = "hash"
    # "" (the sweep), "move" (the source is reset to "0" as it is applied: real-time counters such as
    # member scoring's pending points) or "replay" (apply nothing, report what this run applied before).
    fold: str = ""

    def __post_init__(self) -> None:
        for name in ("source_field", "target_field", "marker_field"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _FIELD.match(value):
                raise BulkscanInputError(f"bad {name} {value!r}: 1-200 printable characters")
        if self.marker_field in (self.source_field, self.target_field):
            raise BulkscanInputError("marker_field must differ from source_field and target_field")
        if not isinstance(self.pattern, str) or not self.pattern or len(self.pattern) > 1000:
            raise BulkscanInputError(f"bad pattern {self.pattern!r}: 1-1000 characters")
        if not isinstance(self.scan_count, int) or not 10 <= self.scan_count <= 100_000:
            raise BulkscanInputError(f"bad scan_count {self.scan_count!r}: 10..100000")
        if self.key_type not in ("hash", ""):
            raise BulkscanInputError(f"bad key_type {self.key_type!r}: 'hash' or '' (no TYPE filter)")
        if self.fold not in ("", "move", "replay"):
            raise BulkscanInputError(f"bad fold {self.fold!r}: '', 'move' or 'replay'")


def validate_run_token(token: str) -> str:
    """The marker value prefix: the run's identity. '|' ends it, so it must not contain one."""
    if not isinstance(token, str) or not token or "|" in token or len(token) > 300:
        raise BulkscanInputError(f"bad run token {token!r}: 1-300 characters without '|'")
    return token


@dataclass
class SweepCounts:
    """Counters of one node sweep (or a sum of them): small enough for XCom."""

    scanned: int = 0  # distinct keys the sweep looked at
    applied: int = 0  # increments applied by this attempt
    done_before: int = 0  # keys found already applied in this run (earlier attempt, other node)
    duplicates: int = 0  # keys SCAN returned more than once (ignored the second time)
    redirected: int = 0  # keys whose slot moved away mid-sweep, applied through the cluster client
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> keys
    pages: int = 0
    restarts: int = 0  # SCAN restarts after a failover / node change

    def count(self, status: str) -> None:
        """Count one key's final status."""
        self.add(status, 1)

    def add(self, status: str, n: int) -> None:
        """Count n keys of one final status."""
        if not n:
            return
        if status == APPLIED:
            self.applied += n
        elif status == DONE_BEFORE:
            self.done_before += n
        elif status == SAME_PASS:
            self.duplicates += n
        elif status in SKIP_REASONS:
            reason = SKIP_REASONS[status]
            self.skipped[reason] = self.skipped.get(reason, 0) + n
        else:  # pragma: no cover - the script only returns the codes above
            raise ValueError(f"unknown sweep status {status!r}")

    @property
    def audited(self) -> int:
        """Keys that carry this run's increment (the audit file has one row for each)."""
        return self.applied + self.done_before

    def to_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "applied": self.applied,
            "done_before": self.done_before,
            "audited": self.audited,
            "duplicates": self.duplicates,
            "redirected": self.redirected,
            "skipped": dict(sorted(self.skipped.items())),
            "pages": self.pages,
            "restarts": self.restarts,
        }

    @classmethod
    def total(cls, parts: Iterable[Mapping[str, Any]]) -> SweepCounts:
        """Sum node counters (from XCom dicts)."""
        out = cls()
        for p in parts:
            for name in (
                "scanned",
                "applied",
                "done_before",
                "duplicates",
                "redirected",
                "pages",
                "restarts",
            ):
                setattr(out, name, getattr(out, name) + int(p.get(name, 0)))
            for reason, n in p.get("skipped", {}).items():
                out.skipped[reason] = out.skipped.get(reason, 0) + int(n)
        return out


def audit_file_name(run_token: str, node_label: str) -> str:
    """`<run>__<node>.csv.gz`, filesystem-safe: one file per run and node, rewritten on retry."""
    run = _TOKEN_UNSAFE.sub("_", run_token).strip("_") or "run"
    node = _TOKEN_UNSAFE.sub("_", node_label).strip("_") or "node"
    return f"{run}__{node}.csv.gz"


def audit_run_prefix(run_token: str) -> str:
    """File-name prefix shared by every audit file of one run."""
    return audit_file_name(run_token, "x")[: -len("x.csv.gz")]


def format_slots(ranges: Iterable[tuple[int, int]]) -> str:
    """'0-5460' or '0-10,20' for labels."""
    return ",".join(f"{a}-{b}" if a != b else str(a) for a, b in ranges)


def slot_ranges(slots: Iterable[int]) -> list[tuple[int, int]]:
    """Compress slot numbers into sorted inclusive ranges."""
    out: list[tuple[int, int]] = []
    for s in sorted(set(slots)):
        if out and out[-1][1] == s - 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out


def glob_to_regex(pattern: str) -> re.Pattern[bytes]:
    """Redis glob (`*`, `?`, `[a-z]`, `[^x]`, backslash escapes) as a bytes regex, for keys that are
    not found by SCAN MATCH (the slot mop-up lists keys per slot and filters them here)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            j = i + 1
            negate = j < n and pattern[j] == "^"
            if negate:
                j += 1
            parts: list[str] = []
            while j < n and pattern[j] != "]":
                if pattern[j] == "\\" and j + 1 < n:
                    j += 1
                    parts.append(re.escape(pattern[j]))
                elif j + 2 < n and pattern[j + 1] == "-" and pattern[j + 2] != "]":
                    lo, hi = sorted((pattern[j], pattern[j + 2]))
                    parts.append(f"{re.escape(lo)}-{re.escape(hi)}")
                    j += 2
                else:
                    parts.append(re.escape(pattern[j]))
                j += 1
            out.append(("[^" if negate else "[") + "".join(parts) + "]" if parts else "(?!)")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile(("(?s)^" + "".join(out) + "$").encode())
