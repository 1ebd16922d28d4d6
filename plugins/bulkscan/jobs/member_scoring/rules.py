"""Member scoring's incremental window algebra (pure: no I/O, no Airflow).

A member's window total on day ``x`` is the sum of their daily sums over the ``window_days`` days
``(x - W, x]``.  Moving from day ``x - 1`` to ``x`` only needs the increment: add day ``x`` and take
off day ``x - W`` (the day leaving the window), so a daily run costs the same whatever the history.
Tiers and actions are functions of those totals, so they can be recomputed for any day from
``flow_day_sum`` alone; that is what makes re-runs of earlier days exact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta
from enum import StrEnum

from bulkscan.core.sweep import SweepSpec
from bulkscan.errors import BulkscanInputError


class Step(StrEnum):
    """How a requested day relates to the applied state."""

    FIRST = "first"  # nothing applied yet: this day starts the state
    FORWARD = "forward"  # the day after the last applied one: add it, drop the day leaving the window
    RERUN = "rerun"  # an applied day again (late flows): replace it, fix totals and later actions


def classify_day(day: date, applied_first: date | None, applied_last: date | None) -> Step:
    """Decide how to apply ``day``; refuse gaps and days before the state began, with the fix in the message."""
    if applied_last is None or applied_first is None:
        return Step.FIRST
    if day == applied_last + timedelta(days=1):
        return Step.FORWARD
    if applied_first <= day <= applied_last:
        return Step.RERUN
    if day > applied_last:
        raise BulkscanInputError(
            f"day {day} cannot be applied yet: the last applied day is {applied_last}, so "
            f"{applied_last + timedelta(days=1)} comes next (days are applied in order; backfill the gap first)"
        )
    raise BulkscanInputError(
        f"day {day} is before the first applied day {applied_first}; the incremental state cannot go back "
        "further. Run the DAG with mode=rebuild for the last day to rebuild the state from flow_day_sum."
    )


def window_bounds(day: date, window_days: int) -> tuple[date, date]:
    """Inclusive first and last day of the window ending on ``day``."""
    return day - timedelta(days=window_days - 1), day


def leaving_day(day: date, window_days: int) -> date:
    """The day whose sums leave the window when moving to ``day``."""
    return day - timedelta(days=window_days)


def affected_action_days(day: date, applied_last: date, window_days: int) -> list[date]:
    """Days whose actions depend on ``day``'s sums: day's tier changes day..day+W-1, actions day..day+W."""
    end = min(applied_last, day + timedelta(days=window_days))
    n = (end - day).days
    return [day + timedelta(days=i) for i in range(n + 1)]


# --- Redis points: the fold of a day's pending points (see `points`) ----------------------------
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
