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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bulkscan.core.sweep import SweepSpec
from bulkscan.jobs.member_scoring.rules import day_token, uid_sums
from bulkscan.redisnodes.audit import StorePath, audit_path, read_audit
from bulkscan.redisnodes.connect import RedisSettings
from bulkscan.redisnodes.mopup import mop_up
from bulkscan.redisnodes.sweeper import SweepHooks, SweepOptions, sweep_node


@dataclass(frozen=True)
class PointsFold:
    """One day's fold of the points on a Redis deployment: where, what (`spec`), and the audit store."""

    settings: RedisSettings
    spec: SweepSpec
    day: date
    store: StorePath
    key_prefix: str = "points:"


def fold_node(
    fold: PointsFold, node: Mapping[str, Any], hooks: SweepHooks | None = None
) -> tuple[dict[str, Any], dict[int, list[int]]]:
    """Fold one primary's pending points into the day; returns (sweep counters, {uid: [points, keys]})."""
    options = SweepOptions(hooks) if hooks is not None else None
    result = sweep_node(fold.settings, node, fold.spec, day_token(fold.day), fold.store, options)
    groups, bad = uid_sums(read_audit(audit_path(fold.store, result["audit"])), fold.key_prefix)
    result["not_a_uid"] = bad
    return result, groups


def fold_mop_up(
    fold: PointsFold, plan: Sequence[Mapping[str, Any]], node_audits: Iterable[str]
) -> tuple[dict[str, Any], dict[int, list[int]]]:
    """Keys whose slot moved during the fold (cluster resharding): the sweep's mop-up, minus keys a node
    producer already reported (the same key may be listed by both; its points count once)."""
    result = mop_up(fold.settings, list(plan), fold.spec, day_token(fold.day), fold.store)
    if not result.get("rounds") or not result.get("audit"):
        return result, {}
    seen = {key for ref in node_audits for key, _, _ in read_audit(audit_path(fold.store, ref))}
    groups, bad = uid_sums(read_audit(audit_path(fold.store, result["audit"])), fold.key_prefix, skip=seen)
    result["not_a_uid"] = bad
    return result, groups
