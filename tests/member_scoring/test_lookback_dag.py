"""Late data: flows written after their day was applied are found by the next run's lookback and
corrected through the re-run path, without anyone re-triggering the day.

Ground truth: `expected_state` recomputes every day from all of t_flow (late flows included), as
in-order processing of the complete data must leave the tables.
"""

from __future__ import annotations

import os
import random
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from bulkscan.jobs.member_scoring.config import ScoringConfig
from bulkscan.jobs.member_scoring.store import ScoringStore
from bulkscan.mysqldb.connect import direct
from tests.airflow_helpers import load_dag, ti_table, xcom_of
from tests.conftest import MYSQL_HOST, MYSQL_PORT
from tests.member_scoring.scoring_truth import actual_state, expected_state

pytestmark = [pytest.mark.integration, pytest.mark.dagrun]
DB = "bs_scoring_lookback"
CONN = "bs_scoring_lookback"
CONFIG = {
    "window_days": 3,
    "tiers": [{"name": "basic"}, {"name": "silver", "min_total": 60}, {"name": "gold", "min_total": 150}],
    "actions": {"coupon": {"min_day_score": 25}, "reward": {"tiers": ["gold"]}},
}
DAYS = [date(2026, 5, 1) + timedelta(days=i) for i in range(5)]


def flows(day: date, n: int, seed: int) -> list[tuple[int, int, datetime]]:
    rng = random.Random(seed)
    base = datetime.combine(day, datetime.min.time())
    return [
        (rng.randrange(1, 120), rng.randint(-5, 20), base + timedelta(seconds=rng.randrange(86400))) for _ in range(n)
    ]


@pytest.fixture(scope="module")
def source(mysql_root: Any) -> Any:
    os.environ[f"AIRFLOW_CONN_{CONN.upper()}"] = f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{DB}"
    mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {DB}")
    ScoringStore(direct(MYSQL_HOST, MYSQL_PORT), DB, ScoringConfig.from_dict(CONFIG)).ensure(with_flow_table=True)
    rows = [f for i, d in enumerate(DAYS) for f in flows(d, 800, i)]
    mysql_root(DB).cursor().executemany("INSERT INTO t_flow (uid, score, created_at) VALUES (%s, %s, %s)", rows)
    yield mysql_root
    mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {DB}")


def conf(day: date, **overrides: Any) -> dict[str, Any]:
    return {
        "conn_id": CONN,
        "config": CONFIG,
        "day": str(day),
        "rows_per_chunk": 400,
        "max_chunks": 8,
        "max_parallel_chunks": 2,
        "mode": "apply",
        "shards": "",
        "redis_conn_id": "",
        "processor": "aggregate",
        "processor_args": {},
        "lookback_days": 2,
        **overrides,
    }


def test_late_flows_within_the_lookback_are_corrected_by_the_next_run(source: Any) -> None:
    dag = load_dag("member_scoring")
    cur = source(DB).cursor()
    for day in DAYS[:3]:
        dr = dag.test(run_conf=conf(day))
        assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
        assert xcom_of(dr, "apply")["late_flows"] == 0
    # late writers: flows of day 2 and day 3 arrive after those days were applied
    late = flows(DAYS[1], 37, 101) + flows(DAYS[2], 11, 102)
    cur.executemany("INSERT INTO t_flow (uid, score, created_at) VALUES (%s, %s, %s)", late)
    dr = dag.test(run_conf=conf(DAYS[3]))
    assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
    summary = xcom_of(dr, "apply")
    assert summary["late_flows"] == 48
    assert summary["corrected_days"] == [str(DAYS[1]), str(DAYS[2])]
    config = ScoringConfig.from_dict(CONFIG)
    want, got = expected_state(cur, DB, config, DAYS[:4]), actual_state(cur, DB)
    assert got["scores"] == want["scores"]
    assert got["actions"] == want["actions"]
    cur.execute("SELECT day, flows FROM scoring_ledger ORDER BY day")
    assert list(cur.fetchall()) == [(d, 800 + {1: 37, 2: 11}.get(i, 0)) for i, d in enumerate(DAYS[:4])]
    # a day outside the lookback stays as applied; the next run finds nothing more to correct
    dr = dag.test(run_conf=conf(DAYS[4]))
    assert xcom_of(dr, "apply")["late_flows"] == 0 and xcom_of(dr, "apply")["corrected_days"] == []


def test_lookback_with_shard_tables_is_refused_before_anything_runs(source: Any) -> None:
    dag = load_dag("member_scoring")
    dr = dag.test(run_conf=conf(DAYS[4], shards="shards.json"))
    tis = ti_table(dag.dag_id, dr.run_id)
    assert str(dr.state) == "failed" and tis[("plan", -1)][0] == "failed" and tis[("plan", -1)][1] == 1
