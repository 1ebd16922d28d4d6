"""Whole-DAG runs of member_scoring with dag.test() against real MariaDB and Airflow metadata."""

from __future__ import annotations

import os
import random
from datetime import date, datetime, timedelta
from typing import Any

import pendulum
import pytest

from bulkscan.jobs.member_scoring.config import ScoringConfig
from bulkscan.jobs.member_scoring.store import ScoringStore
from bulkscan.mysqldb.connect import direct
from tests.airflow_helpers import asset_events, load_dag, ti_table
from tests.conftest import MYSQL_HOST, MYSQL_PORT
from tests.member_scoring.scoring_truth import actual_state, expected_state

pytestmark = [pytest.mark.integration, pytest.mark.dagrun]
DB = "bs_scoring_dag"
CONN = "bs_scoring_dag"
CONFIG = {
    "window_days": 3,
    "tiers": [
        {"name": "basic"},
        {"name": "silver", "min_total": 40},
        {"name": "gold", "min_total": 120},
    ],
    "actions": {"coupon": {"min_day_score": 30}, "reward": {"tiers": ["gold"]}},
}
D0 = date(2026, 4, 1)
DAYS = [D0 + timedelta(days=i) for i in range(5)]
EMPTY = DAYS[2]
# Flow ids (BIGINT UNSIGNED) from 1 to near the type's maximum: one day straddles 2^63 (beyond signed
# BIGINT), the last day ends 1,000 below 2^64 - 1 (room left for the flows later tests insert).
GATE_DB = "bs_scoring_dag_gate"  # the lock test's gate table
FIRST_FLOW_IDS = [1, 2**63 - 1_500, 0, 2**64 - 7_001, 2**64 - 4_001]


@pytest.fixture(scope="module")
def source(mysql_root: Any) -> Any:
    os.environ[f"AIRFLOW_CONN_{CONN.upper()}"] = f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{DB}"
    admin = mysql_root()
    admin.cursor().execute(f"DROP DATABASE IF EXISTS {DB}")
    store = ScoringStore(direct(MYSQL_HOST, MYSQL_PORT), DB, ScoringConfig.from_dict(CONFIG))
    store.ensure(with_flow_table=True)
    cur = mysql_root(DB).cursor()
    cur.execute("CREATE TABLE faults (chunk_index INT PRIMARY KEY)")
    cur.execute("CREATE TABLE attempts (run_key VARCHAR(250), chunk_index INT, try_number INT)")
    rng = random.Random(11)
    rows = []
    for day, first_id in zip(DAYS, FIRST_FLOW_IDS, strict=True):
        if day == EMPTY:
            continue
        base = datetime.combine(day, datetime.min.time())
        rows += [
            (
                first_id + i,
                rng.randrange(1, 400),
                rng.randint(-10, 30),
                base + timedelta(seconds=rng.randrange(86400)),
            )
            for i in range(3_000)
        ]
    cur.executemany("INSERT INTO t_flow (id, uid, score, created_at) VALUES (%s, %s, %s, %s)", rows)
    yield mysql_root
    admin.cursor().execute(f"DROP DATABASE IF EXISTS {DB}")


@pytest.fixture(scope="module")
def dag() -> Any:
    return load_dag("member_scoring")


def conf(**overrides: Any) -> dict[str, Any]:
    base = {
        "conn_id": CONN,
        "config": CONFIG,
        "rows_per_chunk": 1_000,
        "max_chunks": 8,
        "max_parallel_chunks": 2,
        # every run states these: dag.test() keeps an earlier run's conf values as the DAG's params
        "mode": "apply",
        "day": "",
        "shards": "",
        "redis_conn_id": "",
        "processor": "aggregate",
        "processor_args": {},
    }
    base.update(overrides)
    return base


def faulty(mode: str) -> dict[str, Any]:
    return {
        "processor": "tests.processors:faulty_aggregate",
        "processor_args": {
            "control_db": DB,
            "group": "uid",
            "value": "score",
            "mode": mode,
            "port": MYSQL_PORT,
        },
    }


def check_truth(source: Any, days: list[date]) -> None:
    cur = source(DB).cursor()
    want = expected_state(cur, DB, ScoringConfig.from_dict(CONFIG), days)
    got = actual_state(cur, DB)
    assert got["scores"] == want["scores"]
    assert got["actions"] == want["actions"]


def test_backfill_in_order_with_a_chunk_failing_once(source: Any, dag: Any) -> None:
    for i, day in enumerate(DAYS):
        # the scheduled run of business day D fires when it has closed: D + 1 at 00:30 (UTC, 30 min grace)
        logical = pendulum.datetime(day.year, day.month, day.day, tz="UTC").add(days=1, minutes=30)
        extra = faulty("once") if i == 1 else {}
        if i == 1:
            source(DB).cursor().execute("REPLACE INTO faults VALUES (1)")
        dr = dag.test(logical_date=logical, run_conf=conf(**extra))
        assert str(dr.state) == "success", day
        tis = ti_table(dag.dag_id, dr.run_id)
        scans = {m: v for (t, m), v in tis.items() if t == "scan_flows" and m >= 0}
        if day == EMPTY:
            assert not scans
        else:
            assert len(scans) == 3  # 3,000 flows / 1,000 per chunk
            assert scans[0][2].startswith(f"{day} ids ")
        if i == 1:
            assert scans[1][1] == 2 and scans[0][1] == 1  # only the failing chunk ran twice
            source(DB).cursor().execute("DELETE FROM faults")
        check_truth(source, DAYS[: i + 1])
        # member_score as an asset: one event per applied day, the day's counts in its extra
        (event,) = asset_events("bulkscan://member_scoring/member_score", dr.run_id)
        assert event["day"] == str(day) and event["flows"] == (0 if day == EMPTY else 3_000)
    cur = source(DB).cursor()
    cur.execute("SELECT day, flows FROM scoring_ledger ORDER BY day")
    assert [(d, n) for d, n in cur.fetchall()] == [(d, 0 if d == EMPTY else 3_000) for d in DAYS]
    cur.execute("SELECT COUNT(*) FROM bulkscan_partial")
    assert cur.fetchone()[0] == 0  # applied runs drop their partials

    # A day after a gap is refused in plan, before any scan.
    dr = dag.test(run_conf=conf(day=str(DAYS[-1] + timedelta(days=2))))
    assert str(dr.state) == "failed"
    tis = ti_table(dag.dag_id, dr.run_id)
    assert tis[("plan", -1)][0] == "failed"

    # Late flows for an earlier day, then a manual re-run of that day: equal to the truth on final data.
    late = DAYS[1]
    cur.executemany(
        "INSERT INTO t_flow (uid, score, created_at) VALUES (%s, %s, %s)",
        [
            (5000, 150, f"{late} 10:00:00"),
            (7, -200, f"{late} 11:00:00"),
            (8, 90, f"{late} 23:00:00"),
        ],
    )
    dr = dag.test(run_conf=conf(day=str(late)))
    assert str(dr.state) == "success"
    check_truth(source, DAYS)
    cur.execute("SELECT last_step, flows, runs FROM scoring_ledger WHERE day = %s", (late,))
    assert cur.fetchone() == ("rerun", 3_003, 2)

    # Verify mode agrees with the incremental state; a rebuild leaves member_score unchanged.
    cur.execute("SELECT * FROM member_score ORDER BY uid")
    before = cur.fetchall()
    assert str(dag.test(run_conf=conf(mode="verify", day=str(DAYS[-1]))).state) == "success"
    assert str(dag.test(run_conf=conf(mode="rebuild", day=str(DAYS[-1]))).state) == "success"
    cur.execute("SELECT * FROM member_score ORDER BY uid")
    assert cur.fetchall() == before


def test_a_flow_chunk_blocked_on_a_lock_is_ended_by_its_plan_derived_time_limit_and_retried_exact(
    source: Any, dag: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan gives every flow chunk a time limit of 10x its planned rows at the slowest chunk rate of
    the last applied days' runs (each server-side INSERT ... SELECT stored with the seconds it took; here
    seconds, with the floor lowered from 5 minutes), far inside the form's bound and the task's 180-minute
    execution_timeout. A chunk whose INSERT ... SELECT waits on the server behind another session's LOCK
    TABLES ... WRITE has that statement ended on the server when its time is up (its transaction rolls
    back whole), and its retry makes the day exact."""
    import threading

    from tests.airflow_helpers import xcom_of
    from tests.locks import hold_until_waiters_gone

    monkeypatch.setenv("BULKSCAN_CHUNK_TIME_LIMIT_FLOOR_SECONDS", "5")
    cur = source(DB).cursor()
    cur.execute("SELECT day FROM scoring_ledger")
    applied = {d for (d,) in cur.fetchall()}
    for d in DAYS:  # in-order processing up to the last day (done by the backfill test when it ran first)
        if d not in applied:
            assert str(dag.test(run_conf=conf(day=str(d))).state) == "success"
    day = str(DAYS[-1])
    assert str(dag.test(run_conf=conf(day=day)).state) == "success"  # a re-run of the last day: its chunks' rates
    # Every INSERT into the partial store also opens `gate` (a trigger's tables are locked with its
    # statement): the first chunk's INSERT ... SELECT waits behind the lock on it; the plan never inserts.
    # The gate has a schema of its own: a LOCK TABLES also holds its schema's metadata lock, which the
    # plan's CREATE DATABASE IF NOT EXISTS of the scoring schema would wait on.
    cur.execute(f"CREATE DATABASE IF NOT EXISTS {GATE_DB}")
    cur.execute(f"CREATE TABLE IF NOT EXISTS {GATE_DB}.gate (n INT)")
    cur.execute(
        f"CREATE TRIGGER gated BEFORE INSERT ON bulkscan_partial FOR EACH ROW SET @g = (SELECT 1 FROM {GATE_DB}.gate)"
    )
    locked, outcome = threading.Event(), []

    def hold() -> None:
        outcome.append(hold_until_waiters_gone(source(), source(), f"{GATE_DB}.gate", locked))

    try:
        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        assert locked.wait(30)
        dr = dag.test(run_conf=conf(day=day))
        holder.join(70)
    finally:
        cur.execute("DROP TRIGGER IF EXISTS gated")
        cur.execute(f"DROP DATABASE IF EXISTS {GATE_DB}")
    tis = ti_table(dag.dag_id, dr.run_id)
    assert str(dr.state) == "success", tis
    limits = [c["time_limit_s"] for c in xcom_of(dr, "plan")]
    assert all(5 <= s < 120 for s in limits), limits  # derived from the last run, not the form's 120 minutes
    assert outcome == ["waiter gone"], (
        tis
    )  # the waiting statement was ended on the server, not left until the lock went
    tries = sorted(n for (t, m), (_, n, _) in tis.items() if t == "scan_flows")
    assert tries == [1] * (len(tries) - 1) + [2] and len(tries) == 3  # the blocked chunk alone ran twice
    check_truth(source, DAYS)


@pytest.mark.parametrize(
    "overrides",
    [
        {"mode": "replay"},
        {"day": "2026-4-1"},
        {"rows_per_chunk": 0},
        {"flow_table": "t; DROP TABLE t"},
    ],
)
def test_bad_params_are_refused_at_trigger(source: Any, dag: Any, overrides: dict[str, Any]) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        dag.test(run_conf=conf(**overrides))


def test_bad_config_fails_in_plan(source: Any, dag: Any) -> None:
    bad = {
        **CONFIG,
        "tiers": [
            {"name": "basic"},
            {"name": "gold", "min_total": 5},
            {"name": "silver", "min_total": 1},
        ],
    }
    dr = dag.test(run_conf=conf(config=bad, day=str(DAYS[0])))
    assert str(dr.state) == "failed"
    assert ti_table(dag.dag_id, dr.run_id)[("plan", -1)][0] == "failed"


SHARD_DB = "bs_scoring_dag_shards"
SHARD_CONN = "bs_scoring_dag_shards"
MAIN_DB = "bs_scoring_dag_main"
MAIN_CONN = "bs_scoring_dag_main"


def test_flows_split_over_shard_tables_are_merged(mysql_root: Any, dag: Any) -> None:
    """t_flow plus two shard tables (one only has a member nobody else has): every flow counted once."""
    os.environ[f"AIRFLOW_CONN_{MAIN_CONN.upper()}"] = f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{MAIN_DB}"
    os.environ[f"AIRFLOW_CONN_{SHARD_CONN.upper()}"] = f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{SHARD_DB}"
    admin = mysql_root().cursor()
    for db in (MAIN_DB, SHARD_DB):
        admin.execute(f"DROP DATABASE IF EXISTS {db}")
    ScoringStore(direct(MYSQL_HOST, MYSQL_PORT), MAIN_DB, ScoringConfig.from_dict(CONFIG)).ensure(with_flow_table=True)
    admin.execute(f"CREATE DATABASE {SHARD_DB}")
    rng = random.Random(3)
    days = DAYS[:2]
    try:
        for i, table in enumerate((f"{MAIN_DB}.t_flow", f"{SHARD_DB}.t_flow_0", f"{SHARD_DB}.t_flow_1")):
            if i:
                admin.execute(f"CREATE TABLE {table} LIKE {MAIN_DB}.t_flow")
            rows = [
                (rng.randrange(1, 60), rng.randint(-10, 30), f"{d} {rng.randrange(24):02d}:00:00")
                for d in days
                for _ in range(400)
            ]
            if table.endswith("t_flow_1"):
                rows.append((9999, 130, f"{days[0]} 05:00:00"))  # a member only this shard knows
            admin.executemany(f"INSERT INTO {table} (uid, score, created_at) VALUES (%s, %s, %s)", rows)
        topology = {"database": SHARD_DB, "hosts": {SHARD_CONN: "t_flow_0-1"}}
        for d in days:
            dr = dag.test(run_conf=conf(conn_id=MAIN_CONN, day=str(d), shards=topology, rows_per_chunk=250))
            assert str(dr.state) == "success"
            tis = ti_table(dag.dag_id, dr.run_id)
            assert len([k for k in tis if k[0] == "scan_shards" and k[1] >= 0]) >= 2  # a unit per shard at least
        cur = mysql_root(MAIN_DB).cursor()
        extra = (f"`{SHARD_DB}`.t_flow_0", f"`{SHARD_DB}`.t_flow_1")
        want = expected_state(cur, MAIN_DB, ScoringConfig.from_dict(CONFIG), days, extra)
        got = actual_state(cur, MAIN_DB)
        assert got == want
        assert (9999, 130, "gold", days[0]) in got["scores"]
        cur.execute("SELECT SUM(flows) FROM scoring_ledger")
        assert cur.fetchone()[0] == 3 * 800 + 1
    finally:
        for db in (MAIN_DB, SHARD_DB):
            admin.execute(f"DROP DATABASE IF EXISTS {db}")
