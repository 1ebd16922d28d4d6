"""Independent ground truth for member scoring, from the raw flows only (tests and bench share it).

One plain SQL query per day gives every member's window total; tiers and actions then follow from
the configuration's reference rules (ScoringConfig.rank / actions_for), not from bulkscan's SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bulkscan.jobs.member_scoring.config import ScoringConfig


def flows_sql(db: str, extra: tuple[str, ...] = ()) -> str:
    """All raw flows: the database's t_flow plus any extra `db`.`table` sources (shards)."""
    tables = [f"`{db}`.t_flow", *extra]
    return "(" + " UNION ALL ".join(f"SELECT uid, score, created_at FROM {t}" for t in tables) + ") fl"


def opening(zone: str | None) -> Callable[[date], Any]:
    """A business day's opening as a naive UTC created_at value, from zoneinfo (None: the date itself)."""
    if zone is None:
        return lambda d: d
    return lambda d: (
        datetime.combine(d, datetime.min.time(), tzinfo=ZoneInfo(zone)).astimezone(UTC).replace(tzinfo=None)
    )


def day_truth(
    cur: Any, db: str, config: ScoringConfig, day: date, extra: tuple[str, ...] = (), zone: str | None = None
) -> dict[int, tuple[int, int, int, int]]:
    """uid -> (window total on day, window total on day - 1, day's sum, day's flows), by one query.

    `zone`: created_at holds UTC and days are business days in that IANA zone."""
    w = config.window_days
    at = opening(zone)
    start = day - timedelta(days=w - 1)
    # the previous window is [start - 1, day - 1]; one query gives both by difference
    cur.execute(
        "SELECT uid, "
        "SUM(CASE WHEN created_at >= %s THEN score ELSE 0 END), "
        "SUM(CASE WHEN created_at >= %s AND created_at < %s THEN score ELSE 0 END), "
        "SUM(CASE WHEN created_at >= %s THEN score ELSE 0 END), "
        "SUM(CASE WHEN created_at >= %s THEN 1 ELSE 0 END) "
        f"FROM {flows_sql(db, extra)} WHERE created_at < %s GROUP BY uid",
        (at(start), at(start - timedelta(days=1)), at(day), at(day), at(day), at(day + timedelta(days=1))),
    )
    return {int(u): (int(a), int(b), int(c), int(n)) for u, a, b, c, n in cur.fetchall()}


def expected_state(
    cur: Any, db: str, config: ScoringConfig, days: list[date], extra: tuple[str, ...] = (), zone: str | None = None
) -> dict[str, Any]:
    """member_score as of days[-1] and member_action of every day, as in-order processing must leave them."""
    w = config.window_days
    actions: set[tuple[Any, ...]] = set()
    scores: dict[int, tuple[int, str]] = {}
    for day in days:
        truth = day_truth(cur, db, config, day, extra, zone)
        for uid, (total, prev, day_sum, flows) in truth.items():
            for action, ft, tt in config.actions_for(prev, total, day_sum, flows):
                actions.add((day, uid, action, ft, tt))
        scores = {uid: (t[0], config.tier(t[0])) for uid, t in truth.items()}
    last = days[-1]
    cur.execute(
        f"SELECT DISTINCT uid, created_at FROM {flows_sql(db, extra)} WHERE created_at < %s",
        (opening(zone)(last + timedelta(days=1)),),
    )
    as_of: dict[int, date] = {}
    for uid, created in cur.fetchall():
        d = created.date() if zone is None else created.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).date()
        x = d + timedelta(days=w) if d + timedelta(days=w) <= last else d
        as_of[int(uid)] = max(as_of.get(int(uid), x), x)
    score_rows = {(uid, total, tier, as_of[uid]) for uid, (total, tier) in scores.items()}
    return {"scores": score_rows, "actions": actions}


def actual_state(cur: Any, db: str) -> dict[str, Any]:
    cur.execute(f"SELECT uid, window_total, tier, as_of_day FROM `{db}`.member_score")
    scores = {(int(u), int(t), tier, d) for u, t, tier, d in cur.fetchall()}
    cur.execute(f"SELECT day, uid, action, from_tier, to_tier FROM `{db}`.member_action")
    actions = {(d, int(u), a, f, t) for d, u, a, f, t in cur.fetchall()}
    return {"scores": scores, "actions": actions}
