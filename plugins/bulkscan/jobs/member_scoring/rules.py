"""Member scoring's incremental window algebra (pure: no I/O, no Airflow).

A member's window total on day ``x`` is the sum of their daily sums over the ``window_days`` days
``(x - W, x]``.  Moving from day ``x - 1`` to ``x`` only needs the increment: add day ``x`` and take
off day ``x - W`` (the day leaving the window), so a daily run costs the same whatever the history.
Tiers and actions are functions of those totals, so they can be recomputed for any day from
``flow_day_sum`` alone; that is what makes re-runs of earlier days exact.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum

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


def day_bounds(day: date) -> tuple[str, str]:
    """Half-open created_at bounds of a day, as SQL DATETIME literals for bound parameters."""
    nxt = day + timedelta(days=1)
    return f"{day.isoformat()} 00:00:00", f"{nxt.isoformat()} 00:00:00"
