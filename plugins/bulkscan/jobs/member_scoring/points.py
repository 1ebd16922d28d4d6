"""Real-time points kept in Redis hashes (`points:<uid>`, field `pending`), folded into a scoring day once.

No second sweep: this is the Redis sweep (`sweeper.sweep_node` / `mop_up`, `include/redis/sweep_page.lua`)
with a fold. Per key, in one atomic script step, `pending` is added to `applied` (lifetime folded points),
reset to "0", and a marker field of the day (`_scoring:<day>`) stores "<run>|<points>|<applied>|<pass>".
The run token is the day, not the DAG run, so:

* a retried or re-run producer of the same day finds the marker and reports the stored points (never
  moves them twice); points arriving meanwhile stay pending for the next day;
* a re-run of a day already applied (late flows) uses the `replay` fold: nothing is moved, the keys marked
  for that day report their stored points, so the day is re-read exactly as it was first folded.

Each node's audit file (key, points, applied) is the list of what the day got from that node; it is
turned into per-uid partial sums here. Pending values follow the sweep's increment rule: only canonical
positive integers are folded; anything else stays pending and is counted (negative, not_integer...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from bulkscan.core.sweep import SweepSpec
from bulkscan.errors import BulkscanInputError
from bulkscan.redisnodes.audit import read_audit
from bulkscan.redisnodes.connect import RedisSettings
from bulkscan.redisnodes.sweeper import SweepHooks, mop_up, sweep_node

PREFIX_PATTERN = r"^[A-Za-z0-9_:.\-]{1,100}$"
_PREFIX = re.compile(PREFIX_PATTERN)
TOKEN_PREFIX = "member_scoring/points"


def day_token(day: date) -> str:
    """The sweep's run identity for a day's fold: the day itself (a re-run must meet its own markers)."""
    return f"{TOKEN_PREFIX}/{day}"


def marker_field(day: date) -> str:
    """One marker field per day, so re-running an earlier day still finds what that day folded."""
    return f"_scoring:{day}"


def points_spec(
    day: date,
    key_prefix: str = "points:",
    pending_field: str = "pending",
    applied_field: str = "applied",
    *,
    replay: bool = False,
    scan_count: int = 1000,
) -> SweepSpec:
    """The sweep spec of a day's fold (validated: a bad field or prefix fails before any key is touched)."""
    if not isinstance(key_prefix, str) or not _PREFIX.match(key_prefix):
        raise BulkscanInputError(f"bad Redis key prefix {key_prefix!r}: 1-100 of A-Z a-z 0-9 _ : . -")
    return SweepSpec(
        pattern=key_prefix + "*",
        source_field=pending_field,
        target_field=applied_field,
        marker_field=marker_field(day),
        scan_count=scan_count,
        key_type="hash",
        fold="replay" if replay else "move",
    )


def uid_sums(
    rows: Iterable[tuple[str, int, int]], key_prefix: str, skip: set[str] | None = None
) -> tuple[dict[int, list[int]], int]:
    """Audit rows (key, points, applied) -> ({uid: [points, keys]}, keys whose suffix is not a uid)."""
    groups: dict[int, list[int]] = {}
    bad = 0
    n = len(key_prefix)
    for key, points, _ in rows:
        if skip is not None and key in skip:
            continue
        suffix = key[n:]
        if not key.startswith(key_prefix) or not suffix.isdigit() or len(suffix) > 18:
            bad += 1
            continue
        g = groups.setdefault(int(suffix), [0, 0])
        g[0] += points
        g[1] += 1
    return groups, bad


def fold_node(
    settings: RedisSettings,
    node: Mapping[str, Any],
    spec: SweepSpec,
    day: date,
    audit_dir: str | Path,
    key_prefix: str,
    hooks: SweepHooks | None = None,
) -> tuple[dict[str, Any], dict[int, list[int]]]:
    """Fold one primary's pending points into the day; returns (sweep counters, {uid: [points, keys]})."""
    result = sweep_node(settings, node, spec, day_token(day), audit_dir, hooks=hooks)
    groups, bad = uid_sums(read_audit(result["audit"]), key_prefix)
    result["not_a_uid"] = bad
    return result, groups


def fold_mop_up(
    settings: RedisSettings,
    plan: Sequence[Mapping[str, Any]],
    spec: SweepSpec,
    day: date,
    audit_dir: str | Path,
    key_prefix: str,
    node_audits: Iterable[str | Path],
) -> tuple[dict[str, Any], dict[int, list[int]]]:
    """Keys whose slot moved during the fold (cluster resharding): the sweep's mop-up, minus keys a node
    producer already reported (the same key may be listed by both; its points count once)."""
    result = mop_up(settings, list(plan), spec, day_token(day), audit_dir)
    if not result.get("rounds") or not result.get("audit"):
        return result, {}
    seen = {key for path in node_audits for key, _, _ in read_audit(path)}
    groups, bad = uid_sums(read_audit(result["audit"]), key_prefix, skip=seen)
    result["not_a_uid"] = bad
    return result, groups
