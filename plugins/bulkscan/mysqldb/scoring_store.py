"""Member scoring state in MySQL: apply one day's partial sums incrementally, rebuild, verify.

Everything is set-based SQL over session temporary tables, so memory stays flat for a million
members: Python only ever holds counts. One apply is one transaction (plus a server-side lock so two
applies of the same state never interleave):

* forward (the day after the last applied one): transitions = members active on the day (their total
  plus the day's sum) and members whose day leaves the window (total minus that day's sum); tiers,
  actions and member_score come from those transitions, then the day's block of flow_day_sum.
* re-run (an applied day again, e.g. late flows): only the members whose day sums changed are touched;
  their flow_day_sum rows are replaced, their member_score rows recomputed from flow_day_sum, and their
  actions recomputed for every later applied day the change reaches (the day .. day + W). The result is
  the state an in-order run over the final data gives, by construction (see docs/member-scoring.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from bulkscan.core.identifiers import quote_identifier
from bulkscan.core.scoring import (
    ScoringConfig,
    Step,
    affected_action_days,
    classify_day,
    leaving_day,
    window_bounds,
)
from bulkscan.errors import BulkscanError, BulkscanInputError, ReconcileError
from bulkscan.mysqldb.connect import ConnectFactory, close_quietly
from bulkscan.mysqldb.slots import host_slot
from bulkscan.sqlfiles import Fragment, render

log = logging.getLogger(__name__)

TABLES = ("flow_day_sum", "member_score", "member_action", "scoring_ledger")
LOCK_TIMEOUT_S = 600


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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class TimedCursor:
    """A cursor that logs every statement's duration and row count, so a slow apply explains itself."""

    def __init__(self, cur: Any, logger: logging.Logger = log):
        self.cur, self.log = cur, logger
        self.steps: list[tuple[str, float, int]] = []

    def execute(self, sql: str, params: Any = None) -> Any:
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


class ScoringStore:
    """The scoring tables of one database; `results_db` holds the producers' partial sums."""

    def __init__(
        self,
        connect: ConnectFactory,
        database: str,
        config: ScoringConfig,
        results_db: str | None = None,
    ):
        self.connect = connect
        self.database = database
        self.db = Fragment(quote_identifier(database, "database"))
        self.results = Fragment(quote_identifier(results_db or database, "results database"))
        self.config = config
        self.sql = SqlParts(config)

    # --- set-up --------------------------------------------------------------------------------
    def ensure(self, with_flow_table: bool = False) -> None:
        """Create the state tables (and t_flow when asked: demo, tests, bench)."""
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {self.db}")
            names = [
                "scoring_schema",
                *(["scoring_flow_schema"] if with_flow_table else []),
            ]
            for name in names:
                for stmt in render(name, db=self.db).split(";"):
                    if stmt.strip():
                        cur.execute(stmt)
        finally:
            close_quietly(conn)

    def applied_range(self, cur: Any | None = None) -> tuple[date | None, date | None]:
        """First and last applied day (from the ledger), on `cur` or a connection of its own."""
        if cur is not None:
            cur.execute(f"SELECT MIN(day), MAX(day) FROM {self.db}.scoring_ledger")
            first, last = cur.fetchone()
            return first, last
        conn = self.connect()
        try:
            return self.applied_range(conn.cursor())
        finally:
            close_quietly(conn)

    def check_next(self, day: date) -> Step:
        """Refuse a day that cannot be applied (gap, before the state) before any scanning starts."""
        first, last = self.applied_range()
        return classify_day(day, first, last)

    # --- the daily apply -----------------------------------------------------------------------
    def apply_day(
        self,
        day: date,
        run_key: str,
        *,
        expected_chunks: int | None = None,
        more_producers: Sequence[tuple[str, int | None]] = (),
    ) -> DayResult:
        """Merge run `run_key`'s partials into `day` and bring every table up to date, in one transaction.

        `more_producers` are further (run key, expected chunk count) pairs whose partials belong to the
        same day (shard tables, Redis nodes); every producer must have written all its chunks.
        """
        producers = [(run_key, expected_chunks), *more_producers]
        started = time.monotonic()
        conn = self.connect()
        try:
            with self._locked():
                cur = TimedCursor(conn.cursor())
                cur.execute(f"USE {self.db}")  # multi-table DELETEs need a default schema
                first, last = self.applied_range(cur)
                step = classify_day(day, first, last)
                cur.execute(
                    f"SELECT run_key FROM {self.db}.scoring_ledger WHERE day = %s",
                    (day,),
                )
                row = cur.fetchone()
                if row and row[0] == run_key:
                    log.info(
                        "day %s already applied from run %s; nothing to do",
                        day,
                        run_key,
                    )
                    return DayResult(str(day), "skip", run_key, skipped=True)
                for key, expected in producers:
                    if expected is not None:
                        self._check_chunks(cur, key, expected)
                self._work_tables(cur)
                conn.autocommit(False)
                try:
                    for key, _ in producers:
                        cur.execute(render("scoring_load_partials", results=self.results), (key,))
                    if step is Step.RERUN:
                        assert last is not None
                        result = self._rerun(cur, day, last, run_key)
                    else:
                        if step is Step.FIRST:
                            # The state starts from whatever flow_day_sum already holds before the day.
                            cur.execute(f"DELETE FROM {self.db}.member_score")
                            self._rebuild_into(
                                cur,
                                Fragment(f"{self.db}.member_score"),
                                day - timedelta(days=1),
                            )
                        result = self._forward(cur, day, run_key, step)
                    conn.commit()
                except Exception:
                    conn.rollback()
                    raise
        finally:
            close_quietly(conn)
        result = DayResult(**{**result.as_dict(), "seconds": round(time.monotonic() - started, 3)})
        log.info("applied %s", result)
        return result

    def _forward(self, cur: Any, day: date, run_key: str, step: Step) -> DayResult:
        db = self.db
        cur.execute(render("scoring_trans_enter", db=db))
        cur.execute(
            render("scoring_trans_leave", db=db),
            (leaving_day(day, self.config.window_days),),
        )
        self._rank_transitions(cur)
        cur.execute("SELECT COUNT(*) FROM sc_trans")
        changed = int(cur.fetchone()[0])
        actions = self._write_actions(cur, day, scoped=False)
        cur.execute(
            render("scoring_score_upsert", db=db, to_tier=self.sql.tier("cur_rank")),
            (day,),
        )
        cur.execute(f"DELETE FROM {db}.flow_day_sum WHERE day = %s", (day,))
        cur.execute(
            f"INSERT INTO {db}.flow_day_sum (day, uid, score_sum, flows) "
            "SELECT %s, uid, score_sum, flows FROM sc_new ORDER BY uid",
            (day,),
        )
        members, flows = self._day_counts(cur, day)
        self._ledger(cur, day, step, run_key, flows, members, changed, actions)
        return DayResult(str(day), step.value, run_key, members, flows, changed, actions, 1)

    def _rerun(self, cur: Any, day: date, last: date, run_key: str) -> DayResult:
        db = self.db
        stmts = [s for s in render("scoring_affected", db=db).split(";") if s.strip()]
        for stmt in stmts:
            cur.execute(stmt, (day,))
        cur.execute("SELECT COUNT(*) FROM sc_aff")
        changed = int(cur.fetchone()[0])
        total_actions = 0
        days: list[date] = []
        if changed:
            cur.execute(
                f"DELETE f FROM {db}.flow_day_sum f JOIN sc_aff a ON a.uid = f.uid WHERE f.day = %s",
                (day,),
            )
            cur.execute(
                f"INSERT INTO {db}.flow_day_sum (day, uid, score_sum, flows) "
                "SELECT %s, n.uid, n.score_sum, n.flows FROM sc_new n JOIN sc_aff a ON a.uid = n.uid",
                (day,),
            )
            cur.execute(f"DELETE m FROM {db}.member_score m JOIN sc_aff a ON a.uid = m.uid")
            self._rebuild_into(cur, Fragment(f"{db}.member_score"), last, scoped=True)
            candidates = affected_action_days(day, last, self.config.window_days)
            cur.execute(
                f"SELECT day FROM {db}.scoring_ledger WHERE day BETWEEN %s AND %s AND first_step <> 'rebuild' "
                "ORDER BY day",
                (candidates[0], candidates[-1]),
            )
            days = [r[0] for r in cur.fetchall()]
            for y in days:
                total_actions += self._recompute_actions(cur, y)
        members, flows = self._day_counts(cur, day)
        self._ledger(cur, day, Step.RERUN, run_key, flows, members, changed, None)
        cur.execute(f"SELECT actions FROM {db}.scoring_ledger WHERE day = %s", (day,))
        day_actions = int(cur.fetchone()[0])
        log.info(
            "re-run of %s: %d members changed, actions recomputed for %d days",
            day,
            changed,
            len(days),
        )
        return DayResult(
            str(day),
            Step.RERUN.value,
            run_key,
            members,
            flows,
            changed,
            day_actions,
            len(days),
        )

    def _recompute_actions(self, cur: Any, y: date) -> int:
        """Actions of day y for the affected members, from flow_day_sum (their totals on y-1 and y)."""
        w = self.config.window_days
        cur.execute("DELETE FROM sc_trans")
        start = y - timedelta(days=w)
        cur.execute(render("scoring_trans_recompute", db=self.db), (y, start, y, y, start, y))
        self._rank_transitions(cur)
        cur.execute(
            f"DELETE ma FROM {self.db}.member_action ma JOIN sc_aff a ON a.uid = ma.uid WHERE ma.day = %s",
            (y,),
        )
        self._write_actions(cur, y, scoped=True)
        cur.execute(f"SELECT COUNT(*) FROM {self.db}.member_action WHERE day = %s", (y,))
        n = int(cur.fetchone()[0])
        cur.execute(f"UPDATE {self.db}.scoring_ledger SET actions = %s WHERE day = %s", (n, y))
        return n

    def _write_actions(self, cur: Any, day: date, *, scoped: bool) -> int:
        if not scoped:
            cur.execute(f"DELETE FROM {self.db}.member_action WHERE day = %s", (day,))
        n = 0
        for parts in self.sql.actions():
            cur.execute(render("scoring_action_insert", db=self.db, **parts), (day,))
            n += cur.rowcount
        return n

    def _day_counts(self, cur: Any, day: date) -> tuple[int, int]:
        cur.execute(
            f"SELECT COUNT(*), COALESCE(SUM(flows), 0) FROM {self.db}.flow_day_sum WHERE day = %s",
            (day,),
        )
        members, flows = cur.fetchone()
        return int(members), int(flows)

    def _ledger(
        self,
        cur: Any,
        day: date,
        step: Step | str,
        run_key: str,
        flows: int,
        members: int,
        changed: int,
        actions: int | None,
    ) -> None:
        step_s = step.value if isinstance(step, Step) else step
        if actions is None:
            cur.execute(f"SELECT COUNT(*) FROM {self.db}.member_action WHERE day = %s", (day,))
            actions = int(cur.fetchone()[0])
        cur.execute(
            f"INSERT INTO {self.db}.scoring_ledger (day, first_step, last_step, run_key, window_days, config_digest, "
            "flows, members, changed_members, actions) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE last_step = VALUES(last_step), run_key = VALUES(run_key), "
            "window_days = VALUES(window_days), config_digest = VALUES(config_digest), flows = VALUES(flows), "
            "members = VALUES(members), changed_members = VALUES(changed_members), actions = VALUES(actions), "
            "runs = runs + 1, last_applied_at = CURRENT_TIMESTAMP(6)",
            (
                day,
                step_s,
                step_s,
                run_key,
                self.config.window_days,
                self.config.digest,
                flows,
                members,
                changed,
                actions,
            ),
        )

    # --- rebuild and verify --------------------------------------------------------------------
    def _rebuild_into(self, cur: Any, target: Fragment, as_of: date, scoped: bool = False) -> None:
        w = self.config.window_days
        lo, _ = window_bounds(as_of, w)
        sql = render(
            "scoring_rebuild",
            db=self.db,
            target=target,
            tier=self.sql.tier(self.sql.rank("total")),
            scope=Fragment("JOIN sc_aff a ON a.uid = f.uid" if scoped else ""),
        )
        cur.execute(sql, (lo, as_of - timedelta(days=w), w, as_of))

    def rebuild(self, as_of: date, run_key: str = "rebuild") -> DayResult:
        """Recompute member_score as of `as_of` from flow_day_sum alone (bootstrap or reset).

        Actions are not written (a rebuild restates balances; it does not replay history). Days after
        `as_of` must not be applied yet, or the ledger would describe a state that no longer exists.
        """
        started = time.monotonic()
        conn = self.connect()
        try:
            with self._locked():
                cur = TimedCursor(conn.cursor())
                cur.execute(f"USE {self.db}")
                _, last = self.applied_range(cur)
                if last is not None and as_of < last:
                    raise BulkscanInputError(
                        f"cannot rebuild as of {as_of}: days up to {last} are applied; rebuild as of {last} or later"
                    )
                conn.autocommit(False)
                try:
                    cur.execute(f"DELETE FROM {self.db}.member_score")
                    self._rebuild_into(cur, Fragment(f"{self.db}.member_score"), as_of)
                    cur.execute(f"SELECT COUNT(*) FROM {self.db}.member_score")
                    n = int(cur.fetchone()[0])
                    members, flows = self._day_counts(cur, as_of)
                    self._ledger(cur, as_of, "rebuild", run_key, flows, members, n, None)
                    conn.commit()
                except Exception:
                    conn.rollback()
                    raise
        finally:
            close_quietly(conn)
        return DayResult(
            str(as_of),
            "rebuild",
            run_key,
            members,
            flows,
            n,
            0,
            0,
            seconds=round(time.monotonic() - started, 3),
        )

    def verify(self) -> dict[str, int]:
        """Compare member_score with a rebuild from flow_day_sum as of the last applied day (no writes)."""
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(f"USE {self.db}")
            _, last = self.applied_range(cur)
            if last is None:
                return {"members": 0, "mismatches": 0}
            cur.execute(
                "CREATE TEMPORARY TABLE sc_check (uid BIGINT NOT NULL PRIMARY KEY, window_total BIGINT NOT NULL, "
                "tier VARCHAR(32) NOT NULL, as_of_day DATE NOT NULL) ENGINE=InnoDB"
            )
            self._rebuild_into(cur, Fragment("sc_check"), last)
            cur.execute(
                f"SELECT COUNT(*) FROM sc_check c LEFT JOIN {self.db}.member_score m ON m.uid = c.uid "
                "WHERE m.uid IS NULL OR NOT (m.window_total <=> c.window_total AND m.tier <=> c.tier "
                "AND m.as_of_day <=> c.as_of_day)"
            )
            bad = int(cur.fetchone()[0])
            cur.execute(
                f"SELECT COUNT(*) FROM {self.db}.member_score m LEFT JOIN sc_check c ON c.uid = m.uid "
                "WHERE c.uid IS NULL"
            )
            extra = int(cur.fetchone()[0])
            cur.execute("SELECT COUNT(*) FROM sc_check")
            return {"members": int(cur.fetchone()[0]), "mismatches": bad + extra}
        finally:
            close_quietly(conn)

    # --- helpers -------------------------------------------------------------------------------
    def _work_tables(self, cur: Any) -> None:
        for name in ("sc_new", "sc_aff", "sc_trans"):
            cur.execute(f"DROP TEMPORARY TABLE IF EXISTS {name}")
        for stmt in render("scoring_work_tables").split(";"):
            if stmt.strip():
                cur.execute(stmt)

    def _rank_transitions(self, cur: Any) -> None:
        cur.execute(
            render(
                "scoring_trans_rank",
                prev_rank=self.sql.rank("prev_total"),
                cur_rank=self.sql.rank("cur_total"),
            )
        )

    def _check_chunks(self, cur: Any, run_key: str, expected: int) -> None:
        """Every producer of the run must have written before the day is merged."""
        cur.execute(
            f"SELECT COUNT(*) FROM {self.results}.bulkscan_chunk WHERE run_key = %s",
            (run_key,),
        )
        got = int(cur.fetchone()[0])
        if got != expected:
            raise ReconcileError(f"run {run_key}: {got} of {expected} producers wrote partial sums; refusing to merge")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One apply/rebuild at a time per scoring database (held on the server, freed if we die)."""
        try:
            with host_slot(self.connect, f"bulkscan_scoring:{self.database}", 1, LOCK_TIMEOUT_S):
                yield
        except TimeoutError as exc:  # pragma: no cover - depends on host_slot's error type
            raise BulkscanError(f"another scoring apply holds the lock on {self.database}") from exc

    def drop_partials(self, run_key: str) -> None:
        """Forget a run's partial sums once its day is applied (they are re-creatable from the source)."""
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(
                f"DELETE FROM {self.results}.bulkscan_partial WHERE run_key = %s",
                (run_key,),
            )
            cur.execute(
                f"DELETE FROM {self.results}.bulkscan_chunk WHERE run_key = %s",
                (run_key,),
            )
        finally:
            close_quietly(conn)
