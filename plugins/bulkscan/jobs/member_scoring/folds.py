"""Hourly folds: an hour of a day not yet applied folded into flow_day_sum, so the day's close only
folds what is left (the last hour, skipped ones, ones that gained late flows) and applies the day.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

from bulkscan.core.dbapi import Cursor
from bulkscan.core.sqlfiles import statements
from bulkscan.errors import BulkscanInputError
from bulkscan.jobs.member_scoring.business_calendar import HourSlice
from bulkscan.jobs.member_scoring.sqlparts import TimedCursor
from bulkscan.jobs.member_scoring.tables import ScoringTables
from bulkscan.mysqldb.connect import begin, connection, cursor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HourFold:
    """One hour to fold: its slice of the day and the run key its producers wrote partials under."""

    hour: HourSlice
    run_key: str
    expected_chunks: int | None = None


@dataclass(frozen=True)
class FoldResult:
    """What folding one hour did (XCom and the task log)."""

    day: str
    hour: int
    label: str
    members: int
    flows: int
    refolded: bool
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class HourFolds(ScoringTables):
    """The hourly folds of a scoring database."""

    def folded_hours(self, day: date) -> dict[int, int]:
        """Hour index -> flows it was folded with, for each folded hour of `day`."""
        with cursor(self.connect) as cur:
            cur.execute(self.stmt("hour_ledger_day"), (day,))
            return {int(i): int(n) for i, _lo, _hi, n in cur.fetchall()}

    def fold_hour(self, fold: HourFold) -> FoldResult:
        """Fold one hour of a day not yet applied into flow_day_sum, in one transaction: replace the hour's
        block, move the day's block by the difference, record it. Idempotent: folding it again with the
        same flows changes nothing; with more (late) flows it moves by exactly those."""
        day = fold.hour.day
        started = time.monotonic()
        with self.locked(), connection(self.connect) as conn:
            cur = TimedCursor(conn.cursor())
            self.check_calendar(cur)
            _, last = self.applied_range(cur)
            if last is not None and day <= last:
                raise BulkscanInputError(
                    f"day {day} is already applied (last applied day {last}); an hour of it cannot be folded "
                    f"again: re-run the day instead (member_scoring with day {day}), which re-reads all its flows"
                )
            if fold.expected_chunks is not None:
                self._check_chunks(cur, fold.run_key, fold.expected_chunks)
            with begin(conn):
                if last is not None:
                    self.run(cur, "hour_prune", (last,))
                result = self._fold(cur, fold, "hourly")
        return replace(result, seconds=round(time.monotonic() - started, 3))

    def _fold(self, cur: Cursor, fold: HourFold, by: str) -> FoldResult:
        """Fold one hour inside the caller's transaction (see fold_hour)."""
        hour, day = fold.hour, fold.hour.day
        for stmt in statements("member_scoring/fold_work_table"):
            cur.execute(stmt)
        with self.timed("fold_load"):
            self.partials.copy_partials(cur, fold.run_key, "member_scoring/fold_load")
        members, flows = (int(x) for x in self.one(cur, "fold_counts"))
        cur.execute(self.stmt("hour_ledger_day"), (day,))
        refolded = any(int(r[0]) == hour.index for r in cur.fetchall())
        self.run(cur, "fold_day_delta", (day, day, hour.index))
        if refolded:
            self.run(cur, "fold_day_zero", (day,))
        for stmt in statements("member_scoring/fold_hour_replace", db=self.db):
            cur.execute(stmt, (day, hour.index))
        self.run(
            cur,
            "hour_ledger_upsert",
            (day, hour.index, hour.lo, hour.hi, hour.label, fold.run_key, flows, members, by),
        )
        log.info(
            "folded %s (hour %d of %s): %d flows of %d members%s",
            hour.label,
            hour.index,
            day,
            flows,
            members,
            " (again)" if refolded else "",
        )
        return FoldResult(str(day), hour.index, hour.label, members, flows, refolded)
