"""Hourly increments: hours folded as the day goes on, the day closed once, and the tables equal, row for
row, to a single daily apply of the same flows.

Two databases hold the same t_flow. `bs_scoring_daily` is applied the plain way (one member_scoring run
per day). `bs_scoring_hourly` gets member_scoring_hourly runs through the day: an hour, an hour whose
chunk fails once, an hour folded, then folded again after late flows, an hour folded out of order,
an hour that gains late flows and is not folded again, and most hours never folded (skipped): the day's
close must catch all of that up. The day is Europe/Berlin's 25-hour day (daylight saving ends).

Ground truth: the daily database's tables, themselves checked against `expected_state` (raw flows
only), and each hour's sums recomputed from t_flow by a plain GROUP BY over bounds computed here.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bulkscan.jobs.member_scoring.config import ScoringConfig
from bulkscan.jobs.member_scoring.store import ScoringStore
from bulkscan.mysqldb.connect import direct
from tests.airflow_helpers import load_dag, ti_table, xcom_of
from tests.conftest import MYSQL_HOST, MYSQL_PORT
from tests.member_scoring.scoring_truth import actual_state, expected_state

pytestmark = [pytest.mark.integration, pytest.mark.dagrun]
HOURLY, DAILY = "bs_scoring_hourly", "bs_scoring_daily"
BERLIN = ZoneInfo("Europe/Berlin")
CONFIG = {
    "window_days": 2,
    "tiers": [{"name": "basic"}, {"name": "silver", "min_total": 40}, {"name": "gold", "min_total": 90}],
    "actions": {"coupon": {"min_day_score": 30}, "reward": {"tiers": ["gold"]}},
    "calendar": {"timezone": "Europe/Berlin", "created_at": "utc", "grace_minutes": 30},
}
DAYS = [date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)]
LONG_DAY = DAYS[1]  # 25 hours: 00:00 CEST .. 24:00 CET


def hour_bounds(day: date, index: int) -> tuple[datetime, datetime]:
    """UTC bounds of the index-th hour after local midnight, from zoneinfo (not bulkscan's calendar)."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=BERLIN).astimezone(UTC) + timedelta(hours=index)
    return start.replace(tzinfo=None), (start + timedelta(hours=1)).replace(tzinfo=None)


def day_hours(day: date) -> int:
    # through UTC: subtracting two datetimes of one zone subtracts their wall times
    lo, hi = (
        datetime.combine(d, datetime.min.time(), tzinfo=BERLIN).astimezone(UTC) for d in (day, day + timedelta(1))
    )
    return int((hi - lo).total_seconds() // 3600)


def flows(day: date, n: int, seed: int, hour: int | None = None) -> list[tuple[int, int, datetime]]:
    """n flows spread over the business day (or one hour of it), 1 second either side of edges included."""
    rng = random.Random(seed)
    lo, hi = hour_bounds(day, 0)[0], hour_bounds(day, day_hours(day) - 1)[1]
    if hour is not None:
        lo, hi = hour_bounds(day, hour)
    span = int((hi - lo).total_seconds())
    out = [(rng.randrange(1, 80), rng.randint(-4, 15), lo + timedelta(seconds=rng.randrange(span))) for _ in range(n)]
    return [*out, (7, 3, lo), (8, 4, hi - timedelta(seconds=1))]


def conn_id(db: str) -> str:
    return db


@pytest.fixture(scope="module")
def source(mysql_root: Any) -> Any:
    config = ScoringConfig.from_dict(CONFIG)
    rows = [f for i, d in enumerate(DAYS) for f in flows(d, 900, i)]
    for db in (HOURLY, DAILY):
        os.environ[f"AIRFLOW_CONN_{db.upper()}"] = f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{db}"
        mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {db}")
        ScoringStore(direct(MYSQL_HOST, MYSQL_PORT), db, config).ensure(with_flow_table=True)
        mysql_root(db).cursor().executemany("INSERT INTO t_flow (uid, score, created_at) VALUES (%s, %s, %s)", rows)
    cur = mysql_root(HOURLY).cursor()
    cur.execute("CREATE TABLE faults (chunk_index INT PRIMARY KEY)")
    cur.execute("CREATE TABLE attempts (run_key VARCHAR(250), chunk_index INT, try_number INT)")
    yield mysql_root
    for db in (HOURLY, DAILY):
        mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {db}")


def late(source: Any, rows: list[tuple[int, int, datetime]]) -> None:
    """Late writers: the same flows arrive in both databases."""
    for db in (HOURLY, DAILY):
        source(db).cursor().executemany("INSERT INTO t_flow (uid, score, created_at) VALUES (%s, %s, %s)", rows)


def common(db: str) -> dict[str, Any]:
    # every run states these: dag.test() keeps an earlier run's conf values as the DAG's params
    return {
        "conn_id": conn_id(db),
        "config": CONFIG,
        "rows_per_chunk": 15,
        "max_chunks": 4,
        "max_parallel_chunks": 2,
        "processor": "aggregate",
        "processor_args": {},
    }


def daily(dag: Any, db: str, day: date) -> Any:
    conf = {**common(db), "day": str(day), "mode": "apply", "shards": "", "redis_conn_id": "", "lookback_days": 0}
    dr = dag.test(run_conf=conf)
    assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
    return dr


def fold(dag: Any, day: date, hour: int, **overrides: Any) -> Any:
    dr = dag.test(run_conf={**common(HOURLY), "day": str(day), "hour": hour, **overrides})
    assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
    return dr


def table(cur: Any, db: str, name: str, columns: str) -> set[tuple[Any, ...]]:
    cur.execute(f"SELECT {columns} FROM `{db}`.{name}")
    return {tuple(r) for r in cur.fetchall()}


def hour_truth(cur: Any, db: str, day: date, hours: list[int]) -> set[tuple[Any, ...]]:
    """(day, uid, score sum, flows) of the given hours of a day, straight from t_flow."""
    where = " OR ".join("(created_at >= %s AND created_at < %s)" for _ in hours)
    cur.execute(
        f"SELECT uid, SUM(score), COUNT(*) FROM `{db}`.t_flow WHERE {where} GROUP BY uid",
        [b for h in hours for b in hour_bounds(day, h)],
    )
    return {(day, int(u), int(s), int(n)) for u, s, n in cur.fetchall()}


def test_hourly_folds_then_close_equal_one_daily_apply(source: Any) -> None:
    scoring, hourly = load_dag("member_scoring"), load_dag("member_scoring_hourly")
    cur = source().cursor()
    for db in (HOURLY, DAILY):
        daily(scoring, db, DAYS[0])
    assert day_hours(LONG_DAY) == 25

    fold(hourly, LONG_DAY, 0)
    source(HOURLY).cursor().execute("REPLACE INTO faults VALUES (0)")  # hour 1's first chunk fails once
    extra = {
        "processor": "tests.processors:faulty_aggregate",
        "processor_args": {"control_db": HOURLY, "group": "uid", "value": "score", "mode": "once", "port": MYSQL_PORT},
    }
    dr = fold(hourly, LONG_DAY, 1, **extra)
    tries = {m: v[1] for (t, m), v in ti_table(hourly.dag_id, dr.run_id).items() if t == "scan_flows"}
    assert tries[0] == 2 and all(n == 1 for m, n in tries.items() if m != 0)  # only the failing chunk again
    source(HOURLY).cursor().execute("DELETE FROM faults")
    dr = fold(hourly, LONG_DAY, 3)
    labels = [v[2] for (t, _), v in ti_table(hourly.dag_id, dr.run_id).items() if t == "scan_flows"]
    assert all(str(x).startswith(f"{LONG_DAY} 02:00+0100 ids ") for x in labels), labels  # the second 02:00
    dr = fold(hourly, LONG_DAY, 2)  # out of order: the first 02:00, still summer time
    labels = [v[2] for (t, _), v in ti_table(hourly.dag_id, dr.run_id).items() if t == "scan_flows"]
    assert all(str(x).startswith(f"{LONG_DAY} 02:00+0200 ids ") for x in labels), labels
    got = {r for r in table(cur, HOURLY, "flow_day_sum", "day, uid, score_sum, flows") if r[0] == LONG_DAY}
    assert got == hour_truth(cur, HOURLY, LONG_DAY, [0, 1, 2, 3])

    late(source, flows(LONG_DAY, 40, 77, hour=3))
    dr = fold(hourly, LONG_DAY, 3)  # folded again after late flows: moves by exactly those
    assert xcom_of(dr, "fold")["refolded"] is True
    got = {r for r in table(cur, HOURLY, "flow_day_sum", "day, uid, score_sum, flows") if r[0] == LONG_DAY}
    assert got == hour_truth(cur, HOURLY, LONG_DAY, [0, 1, 2, 3])
    late(source, flows(LONG_DAY, 25, 78, hour=0))  # hour 0 gains flows and is not folded again
    assert not table(cur, HOURLY, "member_action", "day") - {(DAYS[0],)}  # folds decide no actions

    dr = daily(scoring, HOURLY, LONG_DAY)  # the close: hours 4..24 skipped, hour 0 stale
    scans = [m for (t, m) in ti_table(scoring.dag_id, dr.run_id) if t == "scan_flows" and m >= 0]
    assert not scans  # nothing mapped: the close folds what is missing itself
    applied = xcom_of(dr, "apply")
    assert applied["step"] == "forward" and applied["hours_folded_at_close"] == [0, *range(4, 25)]
    daily(scoring, DAILY, LONG_DAY)

    def same() -> None:
        for name, columns in (
            ("flow_day_sum", "day, uid, score_sum, flows"),
            ("member_score", "uid, window_total, tier, as_of_day"),
            ("member_action", "day, uid, action, from_tier, to_tier, detail"),
            ("scoring_ledger", "day, flows, members, changed_members, actions"),
        ):
            assert table(cur, HOURLY, name, columns) == table(cur, DAILY, name, columns), name

    same()
    want = expected_state(
        source(DAILY).cursor(), DAILY, ScoringConfig.from_dict(CONFIG), DAYS[:2], zone="Europe/Berlin"
    )
    assert actual_state(source(DAILY).cursor(), DAILY) == want

    # An hour of an applied day is refused before anything is read: the day must be re-run instead.
    dr = hourly.test(run_conf={**common(HOURLY), "day": str(LONG_DAY), "hour": 5})
    tis = ti_table(hourly.dag_id, dr.run_id)
    assert str(dr.state) == "failed" and tis[("plan_hour", -1)][:2] == ("failed", 1)  # no retries: bad input
    # The next day: one hour folded (which prunes the applied day's hour blocks), then the close.
    fold(hourly, DAYS[2], 0)
    assert {r[0] for r in table(cur, HOURLY, "flow_hour_sum", "day")} == {DAYS[2]}
    for db in (HOURLY, DAILY):
        daily(scoring, db, DAYS[2])
    same()
    want = expected_state(source(DAILY).cursor(), DAILY, ScoringConfig.from_dict(CONFIG), DAYS, zone="Europe/Berlin")
    assert actual_state(source(HOURLY).cursor(), HOURLY) == want
    cur.execute(f"SELECT COUNT(*) FROM `{HOURLY}`.bulkscan_partial")
    assert cur.fetchone()[0] == 0  # every fold and close dropped its partials
