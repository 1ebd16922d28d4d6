"""Incremental member scoring against real MariaDB, checked against ground truth from the raw flows."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from bulkscan.core.chunks import Chunk
from bulkscan.errors import BulkscanInputError, ReconcileError
from bulkscan.jobs.member_scoring.config import ScoringConfig
from bulkscan.jobs.member_scoring.flows import DayProducer, plan_day, produce_chunk, produce_chunk_on_server
from bulkscan.jobs.member_scoring.rebuild import rebuild, verify
from bulkscan.jobs.member_scoring.store import ScoringStore
from bulkscan.mysqldb.connect import direct
from bulkscan.mysqldb.results import ChunkOutcome, ResultStore
from tests.conftest import MYSQL_HOST, MYSQL_PORT
from tests.member_scoring.scoring_truth import actual_state, expected_state

pytestmark = pytest.mark.integration

CONFIG = ScoringConfig.from_dict(
    {
        "window_days": 3,
        "tiers": [
            {"name": "basic"},
            {"name": "silver", "min_total": 10},
            {"name": "gold", "min_total": 30},
        ],
        "actions": {"coupon": {"min_day_score": 15}, "reward": {"tiers": ["gold"]}},
    }
)
D0 = date(2026, 3, 1)
DAYS = [D0 + timedelta(days=i) for i in range(7)]
EMPTY_DAY = DAYS[3]  # no flows at all


def seed_flows(cur: Any, db: str, rng: random.Random, day: date, n: int, uids: range) -> None:
    rows = [
        (
            rng.choice(uids),
            rng.randint(-8, 20),
            datetime.combine(day, datetime.min.time()) + timedelta(seconds=rng.randrange(86400)),
        )
        for _ in range(n)
    ]
    cur.executemany(f"INSERT INTO `{db}`.t_flow (uid, score, created_at) VALUES (%s, %s, %s)", rows)


class Harness:
    """Runs a day the way the DAG does: plan, one producer per chunk, apply; without Airflow."""

    def __init__(self, db: str, config: ScoringConfig = CONFIG):
        self.db = db
        self.connect = direct(MYSQL_HOST, MYSQL_PORT, database=db)
        self.results = ResultStore(self.connect, schema=db)
        self.store = ScoringStore(self.connect, db, config)
        self.runs = 0

    def setup(self) -> None:
        self.results.ensure()
        self.store.ensure(with_flow_table=True)

    def run_day(
        self,
        day: date,
        rows_per_chunk: int = 7,
        max_chunks: int = 4,
        twice: int | None = None,
        on_server: bool = False,
    ) -> Any:
        self.store.check_next(day)
        self.runs += 1
        run_key = f"test/{day}/{self.runs}"
        spec, plan = plan_day(self.connect, self.db, day, rows_per_chunk, max_chunks)
        producer = DayProducer(self.connect, spec, self.results, run_key)
        for chunk in plan.chunks:
            for attempt in (1, 2) if twice == chunk.index else (1,):  # a retried chunk replaces its first try
                if on_server:
                    produce_chunk_on_server(producer, chunk, attempt)
                else:
                    produce_chunk(producer, chunk, attempt)
        return self.store.apply_day(day, run_key, expected_chunks=len(plan.chunks))


@pytest.fixture
def harness(fresh_database: Callable[[str], str]) -> Harness:
    h = Harness(fresh_database("bs_scoring_test"))
    h.setup()
    return h


def seed_all(h: Harness, mysql_root: Callable[..., Any], seed: int = 5) -> None:
    rng = random.Random(seed)
    cur = mysql_root().cursor()
    for day in DAYS:
        if day != EMPTY_DAY:
            seed_flows(cur, h.db, rng, day, 40, range(1, 30))
    # a member active on the first day only: drops a tier when the day leaves the window
    cur.execute(
        f"INSERT INTO `{h.db}`.t_flow (uid, score, created_at) VALUES (900, 50, %s)",
        (f"{DAYS[0]} 12:00:00",),
    )


def assert_matches_truth(h: Harness, mysql_root: Callable[..., Any], days: list[date]) -> None:
    cur = mysql_root().cursor()
    want = expected_state(cur, h.db, h.store.config, days)
    got = actual_state(cur, h.db)
    assert got["scores"] == want["scores"]
    assert got["actions"] == want["actions"]
    assert verify(h.store)["mismatches"] == 0


def snapshot(mysql_root: Callable[..., Any], db: str) -> dict[str, list[tuple[Any, ...]]]:
    cur = mysql_root().cursor()
    out = {}
    for table, cols in (
        ("flow_day_sum", "*"),
        ("member_score", "*"),
        ("member_action", "*"),
        ("scoring_ledger", "day, flows, members, actions, window_days, config_digest"),
    ):
        cur.execute(f"SELECT {cols} FROM `{db}`.{table} ORDER BY 1, 2")
        out[table] = list(cur.fetchall())
    return out


def test_days_in_order_match_ground_truth(harness: Harness, mysql_root: Callable[..., Any]) -> None:
    seed_all(harness, mysql_root)
    for i, day in enumerate(DAYS):
        res = harness.run_day(day, twice=0 if i == 2 else None)
        assert res.step == ("first" if i == 0 else "forward")
        assert_matches_truth(harness, mysql_root, DAYS[: i + 1])
    cur = mysql_root().cursor()
    cur.execute(f"SELECT tier, window_total FROM `{harness.db}`.member_score WHERE uid = 900")
    assert cur.fetchone() == (
        "basic",
        0,
    )  # no activity left in the window: back to the floor
    cur.execute(f"SELECT COUNT(*) FROM `{harness.db}`.member_action WHERE uid = 900 AND action = 'downgrade'")
    assert cur.fetchone()[0] == 1
    cur.execute(
        f"SELECT flows, members FROM `{harness.db}`.scoring_ledger WHERE day = %s",
        (EMPTY_DAY,),
    )
    assert cur.fetchone() == (0, 0)
    cur.execute(f"SELECT COUNT(*) FROM `{harness.db}`.member_score WHERE window_total < 0")
    assert cur.fetchone()[0] >= 0  # negative totals are legal; truth comparison above covers them


def test_server_side_producers_match_ground_truth(harness: Harness, mysql_root: Callable[..., Any]) -> None:
    """Partials computed by INSERT ... SELECT into the store: same truth, a retried chunk still counted once."""
    seed_all(harness, mysql_root)
    for i, day in enumerate(DAYS):
        harness.run_day(day, on_server=True, twice=1 if i == 1 else None)
    assert_matches_truth(harness, mysql_root, DAYS)


def test_rerun_same_day_changes_nothing(harness: Harness, mysql_root: Callable[..., Any]) -> None:
    seed_all(harness, mysql_root)
    for day in DAYS[:5]:
        harness.run_day(day)
    before = snapshot(mysql_root, harness.db)
    res = harness.run_day(DAYS[4])
    assert res.step == "rerun" and res.changed_members == 0
    assert snapshot(mysql_root, harness.db) == before


def test_late_flows_rerun_equals_in_order_processing(
    harness: Harness,
    fresh_database: Callable[[str], str],
    mysql_root: Callable[..., Any],
) -> None:
    seed_all(harness, mysql_root)
    for day in DAYS:
        harness.run_day(day)
    cur = mysql_root().cursor()
    late = DAYS[2]
    # late flows for an earlier day (higher ids): a new member, a big positive and a negative correction
    cur.executemany(
        f"INSERT INTO `{harness.db}`.t_flow (uid, score, created_at) VALUES (%s, %s, %s)",
        [
            (777, 40, f"{late} 23:59:59"),
            (3, 25, f"{late} 08:00:00"),
            (4, -30, f"{late} 09:00:00"),
        ],
    )
    res = harness.run_day(late)
    assert res.step == "rerun" and res.changed_members == 3
    assert_matches_truth(harness, mysql_root, DAYS)

    # The same final data processed once, in order, in a second database: every table identical.
    other = Harness(fresh_database("bs_scoring_test_b"))
    other.setup()
    cur.execute(f"INSERT INTO `{other.db}`.t_flow SELECT * FROM `{harness.db}`.t_flow")
    for day in DAYS:
        other.run_day(day)
    assert snapshot(mysql_root, harness.db) == snapshot(mysql_root, other.db)


def test_out_of_order_and_before_start_are_refused(harness: Harness, mysql_root: Callable[..., Any]) -> None:
    seed_all(harness, mysql_root)
    harness.run_day(DAYS[1])
    with pytest.raises(BulkscanInputError, match="last applied day is 2026-03-02"):
        harness.run_day(DAYS[3])
    with pytest.raises(BulkscanInputError, match="before the first applied day"):
        harness.run_day(DAYS[0])


def test_missing_chunk_refuses_to_merge(harness: Harness, mysql_root: Callable[..., Any]) -> None:
    seed_all(harness, mysql_root)
    spec, plan = plan_day(harness.connect, harness.db, DAYS[0], 7, 4)
    assert len(plan.chunks) > 1
    produce_chunk(DayProducer(harness.connect, spec, harness.results, "partial-run"), plan.chunks[0])
    with pytest.raises(ReconcileError, match="1 of"):
        harness.store.apply_day(DAYS[0], "partial-run", expected_chunks=len(plan.chunks))
    assert harness.store.applied_range() == (None, None)


def test_member_only_in_another_producer(harness: Harness, mysql_root: Callable[..., Any]) -> None:
    """A shard or Redis producer writes its own chunk of the same run; its members are merged like any."""
    seed_all(harness, mysql_root)
    spec, plan = plan_day(harness.connect, harness.db, DAYS[0], 1000, 1)
    produce_chunk(DayProducer(harness.connect, spec, harness.results, "multi"), plan.chunks[0])
    extra = Chunk(index=100, lo=0, hi=1)
    outcome = ChunkOutcome("member_scoring", "redis:points", rows=1, seconds=0.0, try_number=1, groups={5001: [35, 1]})
    harness.results.replace_chunk("multi", extra, outcome)
    harness.store.apply_day(DAYS[0], "multi", expected_chunks=2)
    cur = mysql_root().cursor()
    cur.execute(f"SELECT window_total, tier FROM `{harness.db}`.member_score WHERE uid = 5001")
    assert cur.fetchone() == (35, "gold")
    cur.execute(f"SELECT action FROM `{harness.db}`.member_action WHERE uid = 5001 ORDER BY action")
    assert [r[0] for r in cur.fetchall()] == ["upgrade", "coupon", "reward"]


def test_rebuild_agrees_with_incremental(harness: Harness, mysql_root: Callable[..., Any]) -> None:
    seed_all(harness, mysql_root)
    for day in DAYS:
        harness.run_day(day)
    before = snapshot(mysql_root, harness.db)["member_score"]
    rebuild(harness.store, DAYS[-1])
    assert snapshot(mysql_root, harness.db)["member_score"] == before
    with pytest.raises(BulkscanInputError, match="cannot rebuild"):
        rebuild(harness.store, DAYS[2])
