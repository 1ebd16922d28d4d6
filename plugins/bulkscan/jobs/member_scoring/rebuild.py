"""Recompute member scoring's state from flow_day_sum alone: `rebuild` (bootstrap or reset) and
`verify` (the incremental state checked against a rebuild, writing nothing)."""

from __future__ import annotations

import time
from datetime import date

from bulkscan.core.sqlfiles import Fragment
from bulkscan.errors import BulkscanInputError
from bulkscan.jobs.member_scoring.sqlparts import TimedCursor
from bulkscan.jobs.member_scoring.store import DayResult, LedgerEntry, ScoringStore
from bulkscan.mysqldb.connect import begin, connection


def rebuild(store: ScoringStore, as_of: date, run_key: str = "rebuild") -> DayResult:
    """Recompute member_score as of `as_of` from flow_day_sum alone (bootstrap or reset).

    Actions are not written (a rebuild restates balances; it does not replay history). Days after
    `as_of` must not be applied yet, or the ledger would describe a state that no longer exists.
    """
    started = time.monotonic()
    with store.locked(), connection(store.connect) as conn:
        cur = TimedCursor(conn.cursor())
        store.run(cur, "use_db")
        _, last = store.applied_range(cur)
        if last is not None and as_of < last:
            raise BulkscanInputError(
                f"cannot rebuild as of {as_of}: days up to {last} are applied; rebuild as of {last} or later"
            )
        with begin(conn):
            store.run(cur, "score_clear")
            store.rebuild_into(cur, Fragment(f"{store.db}.member_score"), as_of)
            n = store.count(cur, "score_count")
            members, flows = store.day_counts(cur, as_of)
            store.ledger(cur, LedgerEntry(as_of, "rebuild", run_key, flows, members, n))
    return DayResult(
        str(as_of), "rebuild", run_key, members, flows, n, 0, 0, seconds=round(time.monotonic() - started, 3)
    )


def verify(store: ScoringStore) -> dict[str, int]:
    """Compare member_score with a rebuild from flow_day_sum as of the last applied day (no writes)."""
    with connection(store.connect) as conn:
        cur = conn.cursor()
        store.run(cur, "use_db")
        _, last = store.applied_range(cur)
        if last is None:
            return {"members": 0, "mismatches": 0}
        store.run(cur, "check_table")
        store.rebuild_into(cur, Fragment("sc_check"), last)
        bad = store.count(cur, "check_mismatches")
        extra = store.count(cur, "check_extra")
        return {"members": store.count(cur, "check_count"), "mismatches": bad + extra}
