"""SQL pieces member scoring builds from its validated configuration, and a cursor that times statements.

Only integers and [a-z0-9_] tier names from `ScoringConfig` reach these fragments (never user text),
so the CASE / ELT expressions can be substituted into include/sql/member_scoring/*.sql templates.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from bulkscan.core.dbapi import Cursor, Params
from bulkscan.core.sqlfiles import Fragment
from bulkscan.jobs.member_scoring.config import ScoringConfig

log = logging.getLogger(__name__)


class TimedCursor:
    """A cursor that logs every statement's duration and row count, so a slow apply explains itself."""

    def __init__(self, cur: Cursor, logger: logging.Logger = log):
        self.cur, self.log = cur, logger
        self.steps: list[tuple[str, float, int]] = []

    def execute(self, sql: str, params: Params = None) -> Any:
        t0 = time.monotonic()
        out = self.cur.execute(sql, params)
        took = time.monotonic() - t0
        head = " ".join(sql.split())[:70]
        self.steps.append((head, took, self.cur.rowcount))
        if took >= 0.5:
            self.log.info("%.2fs  %s rows  %s", took, f"{self.cur.rowcount:,}", head)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cur, name)


class SqlParts:
    """SQL fragments bulkscan builds from a validated configuration (ints and [a-z0-9_] names only)."""

    def __init__(self, config: ScoringConfig):
        self.config = config

    def rank(self, expr: str) -> Fragment:
        pairs = list(enumerate(self.config.thresholds, start=1))
        if not pairs:
            return Fragment("0")
        whens = " ".join(f"WHEN {expr} >= {int(m)} THEN {i}" for i, m in reversed(pairs))
        return Fragment(f"CASE {whens} ELSE 0 END")

    def tier(self, rank_expr: str) -> Fragment:
        names = ", ".join(f"'{n}'" for n in self.config.tier_names)  # names match ^[a-z][a-z0-9_]*$
        return Fragment(f"ELT({rank_expr} + 1, {names})")

    def actions(self) -> list[dict[str, Fragment]]:
        a = self.config.actions
        base = {"from_tier": self.tier("prev_rank"), "to_tier": self.tier("cur_rank")}
        out: list[dict[str, Fragment]] = []
        if a.upgrade:
            out.append(
                {
                    "action": Fragment("'upgrade'"),
                    "condition": Fragment("cur_rank > prev_rank"),
                    "detail": Fragment("CONCAT('window_total=', cur_total)"),
                    **base,
                }
            )
        if a.downgrade:
            out.append(
                {
                    "action": Fragment("'downgrade'"),
                    "condition": Fragment("cur_rank < prev_rank"),
                    "detail": Fragment("CONCAT('window_total=', cur_total)"),
                    **base,
                }
            )
        if a.coupon_min_day_score is not None:
            cond = f"day_flows > 0 AND day_sum >= {int(a.coupon_min_day_score)}"
            out.append(
                {
                    "action": Fragment("'coupon'"),
                    "condition": Fragment(cond),
                    "detail": Fragment("CONCAT('day_score=', day_sum)"),
                    **base,
                }
            )
        if a.reward_tiers:
            names = self.config.tier_names
            ranks = ", ".join(str(names.index(t)) for t in a.reward_tiers)
            out.append(
                {
                    "action": Fragment("'reward'"),
                    "condition": Fragment(f"cur_rank > prev_rank AND cur_rank IN ({ranks})"),
                    "detail": Fragment("CONCAT('reached=', " + self.tier("cur_rank") + ")"),
                    **base,
                }
            )
        return out
