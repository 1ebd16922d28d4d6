"""The scoring tables of one database, as the daily apply (store) and the hourly folds (folds) share
them: statements from include/sql/member_scoring/ with the database filled in and timed, set-up, the
applied range, the calendar check, the producers' check, and the one-at-a-time server-side lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from bulkscan.core.dbapi import ConnectFactory, Cursor, Params
from bulkscan.core.identifiers import quote_identifier
from bulkscan.core.sqlfiles import Fragment, render, statements
from bulkscan.errors import BulkscanError, BulkscanInputError, ReconcileError
from bulkscan.jobs.member_scoring.business_calendar import Calendar
from bulkscan.jobs.member_scoring.config import ScoringConfig
from bulkscan.jobs.member_scoring.rules import Step, classify_day
from bulkscan.jobs.member_scoring.sqlparts import SqlParts
from bulkscan.mysqldb.connect import cursor
from bulkscan.mysqldb.results import ResultStore
from bulkscan.mysqldb.slots import host_slot

log = logging.getLogger(__name__)

LOCK_TIMEOUT_S = 600


class ScoringTables:
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
        self.partials = ResultStore(connect, results_db or database)
        self.config = config
        self.sql = SqlParts(config)
        self.timings: dict[str, float] = {}  # seconds per statement file of the last apply

    def stmt(self, name: str, **parts: Fragment) -> str:
        """include/sql/member_scoring/<name>.sql with this store's database filled in."""
        return render(f"member_scoring/{name}", db=self.db, **parts)

    def run(self, cur: Cursor, name: str, params: Params = None, **parts: Fragment) -> None:
        with self.timed(name):
            cur.execute(self.stmt(name, **parts), params)

    def one(self, cur: Cursor, name: str, params: Params = None, **parts: Fragment) -> tuple[Any, ...]:
        with self.timed(name):
            cur.execute(self.stmt(name, **parts), params)
        row = cur.fetchone()
        if row is None:
            raise BulkscanError(f"member_scoring/{name}.sql returned no row")
        return tuple(row)

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Add the block's seconds to `timings[name]`, so an apply's result says where its time went."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.monotonic() - started

    def count(self, cur: Cursor, name: str, params: Params = None) -> int:
        return int(self.one(cur, name, params)[0])

    def ensure(self, with_flow_table: bool = False) -> None:
        """Create the state tables (and t_flow when asked: demo, tests, bench)."""
        with cursor(self.connect) as cur:
            cur.execute(render("common/create_database", database=self.db))
            for name in ["schema", *(["flow_schema"] if with_flow_table else [])]:
                for stmt in statements(f"member_scoring/{name}", db=self.db):
                    cur.execute(stmt)

    def applied_range(self, cur: Cursor | None = None) -> tuple[date | None, date | None]:
        """First and last applied day (from the ledger), on `cur` or a connection of its own."""
        if cur is None:
            with cursor(self.connect) as own:
                return self.applied_range(own)
        first, last = self.one(cur, "applied_range")
        return first, last

    def slowest_recent_rate(self, producer_key: Callable[[str], str] = str, days: int = 3) -> float | None:
        """Seconds per row of the slowest chunk in the runs of the `days` days applied last (a producer's
        own run key from the day's: `producer_key`), or None before any: what the next plan derives its
        chunks' time limits from (bulkscan.core.chunks.chunk_time_limit)."""
        with cursor(self.connect) as cur:
            cur.execute(self.stmt("last_run_keys"), (days,))
            keys = [str(k) for (k,) in cur.fetchall()]
        rates = [r for r in (self.partials.run_slowest_rate(producer_key(k)) for k in keys) if r is not None]
        return max(rates, default=None)

    def check_next(self, day: date) -> Step:
        """Refuse a day that cannot be applied (gap, before the state, another calendar) before any scan."""
        with cursor(self.connect) as cur:
            self.check_calendar(cur)
            first, last = self.applied_range(cur)
        return classify_day(day, first, last)

    def applied_flows(self, since: date, before: date) -> dict[date, int]:
        """Flows each applied day in [since, before) was applied with (from the ledger)."""
        with cursor(self.connect) as cur:
            cur.execute(self.stmt("ledger_flows"), (since, before))
            return {d: int(n) for d, n in cur.fetchall()}

    def check_calendar(self, cur: Cursor) -> None:
        """Applied days were cut into days by one calendar; applying under another would mix two cuts."""
        mine = self.config.calendar.identity
        cur.execute(self.stmt("ledger_calendars"), (Calendar().identity,))
        others = [(c, lo, hi, n) for c, lo, hi, n in cur.fetchall() if c != mine]
        if others:
            c, lo, hi, n = others[0]
            raise BulkscanInputError(
                f"{n} applied day(s), {lo} .. {hi}, were cut into business days by the calendar {c}; this "
                f"configuration says {mine}. Changing the zone or what created_at holds re-cuts every day: "
                "keep the calendar, or rebuild under the new one (drop the scoring tables of this database, "
                "then backfill the days again; docs/member-scoring.md, 'Changing the calendar')"
            )

    def _check_chunks(self, cur: Cursor, run_key: str, expected: int) -> None:
        """Every producer of the run must have written before the day is merged."""
        got = self.partials.chunk_count(run_key, cur)
        if got != expected:
            raise ReconcileError(f"run {run_key}: {got} of {expected} producers wrote partial sums; refusing to merge")

    @contextmanager
    def locked(self) -> Iterator[None]:
        """One apply/rebuild at a time per scoring database (held on the server, freed if we die)."""
        with host_slot(self.connect, f"bulkscan_scoring:{self.database}", 1, LOCK_TIMEOUT_S):
            yield
