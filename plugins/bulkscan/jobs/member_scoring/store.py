"""Member scoring state in MySQL: apply one day's partial sums incrementally.

Everything is set-based SQL over session temporary tables (include/sql/member_scoring/), so memory
stays flat for a million members: Python only ever holds counts. One apply is one transaction (plus
a server-side lock so two applies of the same state never interleave):

* forward (the day after the last applied one): transitions = members active on the day (their total
  plus the day's sum) and members whose day leaves the window (total minus that day's sum); tiers,
  actions and member_score come from those transitions, then the day's block of flow_day_sum.
* re-run (an applied day again, e.g. late flows): only the members whose day sums changed are touched;
  their flow_day_sum rows are replaced, their member_score rows recomputed from flow_day_sum, and their
  actions recomputed for every later applied day the change reaches (the day .. day + W). The result is
  the state an in-order run over the final data gives, by construction (see docs/member-scoring.md).

Rebuild and verify (recompute from flow_day_sum alone) are in `rebuild`; the producers' partial sums
are read through `ResultStore`, which owns bulkscan_chunk / bulkscan_partial.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from bulkscan.core.dbapi import Cursor
from bulkscan.core.report import seconds_table
from bulkscan.core.sqlfiles import Fragment, statements
from bulkscan.errors import BulkscanInputError
from bulkscan.jobs.member_scoring.folds import HourFold, HourFolds
from bulkscan.jobs.member_scoring.rules import Step, affected_action_days, classify_day, leaving_day, window_bounds
from bulkscan.jobs.member_scoring.sqlparts import TimedCursor
from bulkscan.mysqldb.connect import begin, connection

log = logging.getLogger(__name__)

TABLES = ("flow_day_sum", "member_score", "member_action", "scoring_ledger", "flow_hour_sum", "scoring_hour_ledger")


@dataclass(frozen=True)
class DayResult:
    """What one apply did (small: it goes to XCom and the task log)."""

    day: str
    step: str
    run_key: str
    members: int = 0
    flows: int = 0
    changed_members: int = 0
    actions: int = 0
    action_days: int = 0
    skipped: bool = False
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per statement file, slowest first

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LedgerEntry:
    """One scoring_ledger row: what a day's apply (or a rebuild) left behind."""

    day: date
    step: str
    run_key: str
    flows: int
    members: int
    changed: int
    actions: int | None = None  # None: counted from member_action


class ScoringStore(HourFolds):
    """The scoring state of one database: the daily apply, re-runs and rebuilds (folds: the hourly folds)."""

    def apply_day(
        self,
        day: date,
        run_key: str,
        *,
        expected_chunks: int | None = None,
        more_producers: Sequence[tuple[str, int | None]] = (),
        folds: Sequence[HourFold] | None = None,
    ) -> DayResult:
        """Merge run `run_key`'s partials into `day` and bring every table up to date, in one transaction.

        `more_producers` are further (run key, expected chunk count) pairs whose partials belong to the
        same day (shard tables, Redis nodes); every producer must have written all its chunks.
        `folds` (the hourly close): the day's sums are already in flow_day_sum from the hourly folds;
        these hours (the last one, skipped ones, ones that gained flows) are folded first, in the same
        transaction, and the day is then applied from flow_day_sum without rewriting its block.
        """
        producers = [
            (run_key, expected_chunks),
            *more_producers,
            *((f.run_key, f.expected_chunks) for f in folds or ()),
        ]
        started, self.timings = time.monotonic(), {}
        with self.locked(), connection(self.connect) as conn:
            cur = TimedCursor(conn.cursor())
            self.run(cur, "use_db")  # multi-table DELETEs need a default schema
            self.check_calendar(cur)
            first, last = self.applied_range(cur)
            step = classify_day(day, first, last)
            cur.execute(self.stmt("ledger_run_key"), (day,))
            row = cur.fetchone()
            if row and row[0] == run_key:
                log.info("day %s already applied from run %s; nothing to do", day, run_key)
                return DayResult(str(day), "skip", run_key, skipped=True)
            for key, expected in producers:
                if expected is not None:
                    self._check_chunks(cur, key, expected)
            self._work_tables(cur)
            with begin(conn):
                if folds is not None:
                    if step not in (Step.FORWARD, Step.FIRST):
                        raise BulkscanInputError(f"day {day} is already applied: a re-run reads the whole day")
                    for fold in folds:
                        self._fold(cur, fold, "close")
                else:
                    for key, _ in producers:
                        with self.timed("load_partials"):
                            self.partials.copy_partials(cur, key, "member_scoring/load_partials")
                result = self._apply_step(cur, day, run_key, step, last, rewrite_day=folds is None)
        timings = {k: round(v, 3) for k, v in sorted(self.timings.items(), key=lambda kv: -kv[1])}
        result = replace(result, seconds=round(time.monotonic() - started, 3), timings=timings)
        log.info(
            "applied %s (%s): %s members, %s flows, %s changed, %s actions, %.2f s\n%s",
            day,
            result.step,
            f"{result.members:,}",
            f"{result.flows:,}",
            f"{result.changed_members:,}",
            f"{result.actions:,}",
            result.seconds,
            seconds_table(timings),
        )
        return result

    def _apply_step(
        self, cur: Cursor, day: date, run_key: str, step: Step, last: date | None, *, rewrite_day: bool = True
    ) -> DayResult:
        if step is Step.RERUN:
            assert last is not None
            return self._rerun(cur, day, last, run_key)
        if step is Step.FIRST:
            # The state starts from whatever flow_day_sum already holds before the day.
            self.run(cur, "score_clear")
            self.rebuild_into(cur, Fragment(f"{self.db}.member_score"), day - timedelta(days=1))
        return self._forward(cur, day, run_key, step, rewrite_day=rewrite_day)

    def _forward(self, cur: Cursor, day: date, run_key: str, step: Step, *, rewrite_day: bool = True) -> DayResult:
        # the close of a day the hourly folds hold reads its sums where the folds left them
        folded = f"(SELECT uid, score_sum, flows FROM {self.db}.flow_day_sum WHERE day = %s) n"
        day_sums = Fragment("sc_new n" if rewrite_day else folded)
        self.run(cur, "trans_enter", None if rewrite_day else (day,), day_sums=day_sums)
        self.run(cur, "trans_leave", (leaving_day(day, self.config.window_days),))
        self._rank_transitions(cur)
        changed = self.count(cur, "trans_count")
        actions = self._write_actions(cur, day, scoped=False)
        self.run(cur, "score_update", (day,), to_tier=self.sql.tier("t.cur_rank"))
        self.run(cur, "score_insert_new", (day,), to_tier=self.sql.tier("cur_rank"))
        if rewrite_day:  # the hourly folds already left the day's block in flow_day_sum
            self.run(cur, "day_delete", (day,))
            self.run(cur, "day_insert", (day,))
        members, flows = self.day_counts(cur, day)
        self.ledger(cur, LedgerEntry(day, step.value, run_key, flows, members, changed, actions))
        return DayResult(str(day), step.value, run_key, members, flows, changed, actions, 1)

    def _rerun(self, cur: Cursor, day: date, last: date, run_key: str) -> DayResult:
        for stmt in statements("member_scoring/affected", db=self.db):
            cur.execute(stmt, (day,))
        changed = self.count(cur, "affected_count")
        for stmt in statements("member_scoring/hour_forget_day", db=self.db):
            cur.execute(stmt, (day,))
        days: list[date] = []
        if changed:
            self.run(cur, "day_delete_affected", (day,))
            self.run(cur, "day_insert_affected", (day,))
            self.run(cur, "score_delete_affected")
            self.rebuild_into(cur, Fragment(f"{self.db}.member_score"), last, scoped=True)
            candidates = affected_action_days(day, last, self.config.window_days)
            cur.execute(self.stmt("ledger_action_days"), (candidates[0], candidates[-1]))
            days = [r[0] for r in cur.fetchall()]
            for later in days:
                self._recompute_actions(cur, later)
        members, flows = self.day_counts(cur, day)
        self.ledger(cur, LedgerEntry(day, Step.RERUN.value, run_key, flows, members, changed))
        day_actions = self.count(cur, "ledger_actions", (day,))
        log.info("re-run of %s: %d members changed, actions recomputed for %d days", day, changed, len(days))
        return DayResult(str(day), Step.RERUN.value, run_key, members, flows, changed, day_actions, len(days))

    def _recompute_actions(self, cur: Cursor, later: date) -> int:
        """Actions of a later day for the affected members, from flow_day_sum (their totals on day-1 and day)."""
        start = later - timedelta(days=self.config.window_days)
        self.run(cur, "trans_clear")
        self.run(cur, "trans_recompute", (later, start, later, later, start, later))
        self._rank_transitions(cur)
        self.run(cur, "action_delete_affected", (later,))
        self._write_actions(cur, later, scoped=True)
        n = self.count(cur, "action_count", (later,))
        self.run(cur, "ledger_set_actions", (n, later))
        return n

    def _write_actions(self, cur: Cursor, day: date, *, scoped: bool) -> int:
        if not scoped:
            self.run(cur, "action_delete", (day,))
        n = 0
        for parts in self.sql.actions():
            self.run(cur, "action_insert", (day,), **parts)
            n += cur.rowcount
        return n

    def day_counts(self, cur: Cursor, day: date) -> tuple[int, int]:
        members, flows = self.one(cur, "day_counts", (day,))
        return int(members), int(flows)

    def ledger(self, cur: Cursor, entry: LedgerEntry) -> None:
        actions = entry.actions
        if actions is None:
            actions = self.count(cur, "action_count", (entry.day,))
        self.run(
            cur,
            "ledger_upsert",
            (
                entry.day,
                entry.step,
                entry.step,
                entry.run_key,
                self.config.window_days,
                self.config.digest,
                self.config.calendar.identity,
                entry.flows,
                entry.members,
                entry.changed,
                actions,
            ),
        )

    def rebuild_into(self, cur: Cursor, target: Fragment, as_of: date, scoped: bool = False) -> None:
        """Every member's state as of `as_of` from flow_day_sum alone, into `target` (scoped: sc_aff only)."""
        w = self.config.window_days
        lo, _ = window_bounds(as_of, w)
        self.run(
            cur,
            "rebuild",
            (lo, as_of - timedelta(days=w), w, as_of),
            target=target,
            tier=self.sql.tier(self.sql.rank("total")),
            scope=Fragment("JOIN sc_aff a ON a.uid = f.uid" if scoped else ""),
        )

    def _work_tables(self, cur: Cursor) -> None:
        for stmt in [*statements("member_scoring/drop_work_tables"), *statements("member_scoring/work_tables")]:
            cur.execute(stmt)

    def _rank_transitions(self, cur: Cursor) -> None:
        self.run(cur, "trans_rank", prev_rank=self.sql.rank("prev_total"), cur_rank=self.sql.rank("cur_total"))

    def drop_partials(self, run_key: str) -> None:
        """Forget a run's partial sums once its day is applied (they are re-creatable from the source)."""
        self.partials.forget(run_key)
