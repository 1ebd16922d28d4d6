"""Whole-DAG runs of member_scoring with Redis points (scan_redis per primary) on a real Redis (6391)."""

from __future__ import annotations

import os
from typing import Any

import pytest
import redis

from bulkscan.jobs.member_scoring.config import ScoringConfig
from bulkscan.jobs.member_scoring.store import ScoringStore
from bulkscan.mysqldb.connect import direct
from tests.airflow_helpers import ti_table, xcom_of
from tests.conftest import MYSQL_HOST, MYSQL_PORT
from tests.member_scoring.scoring_truth import actual_state, expected_state
from tests.member_scoring.test_member_scoring_dag import CONFIG, DAYS, conf, dag  # noqa: F401 - the dag fixture
from tests.member_scoring.test_scoring_redis import PORT, redis_server  # noqa: F401 - the fixture

pytestmark = [pytest.mark.integration, pytest.mark.dagrun]
DB = "bs_scoring_redis_dag"
CONN, RCONN = "bs_scoring_redis_dag", "bs_scoring_redis_pts"


def test_redis_points_folded_once_through_the_dag(mysql_root: Any, dag: Any, redis_server: Any) -> None:  # noqa: F811
    os.environ[f"AIRFLOW_CONN_{CONN.upper()}"] = f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{DB}"
    os.environ[f"AIRFLOW_CONN_{RCONN.upper()}"] = f"redis://127.0.0.1:{PORT}/0"
    admin = mysql_root().cursor()
    admin.execute(f"DROP DATABASE IF EXISTS {DB}")
    ScoringStore(direct(MYSQL_HOST, MYSQL_PORT), DB, ScoringConfig.from_dict(CONFIG)).ensure(with_flow_table=True)
    r = redis.Redis(port=PORT)
    r.flushall()
    cur = mysql_root(DB).cursor()
    cur.execute("CREATE TABLE redis_truth (uid BIGINT, score BIGINT, created_at DATETIME)")
    d0, d1 = DAYS[:2]
    cur.executemany(
        "INSERT INTO t_flow (uid, score, created_at) VALUES (%s, %s, %s)",
        [(u, 20 + u, f"{d} 10:00:00") for d in (d0, d1) for u in range(1, 30)],
    )
    try:
        r.hincrby("points:9001", "pending", 130)  # a member only Redis knows
        r.hincrby("points:5", "pending", 11)
        for i in range(1_200):  # members with nothing pending: scanned, never folded (a rate for the next plan)
            r.hset(f"points:{20_000 + i}", "pending", "0")
        cur.executemany("INSERT INTO redis_truth VALUES (%s, %s, %s)", [(9001, 130, f"{d0}"), (5, 11, f"{d0}")])
        run = conf(conn_id=CONN, day=str(d0), redis_conn_id=RCONN)
        dr = dag.test(run_conf=run)
        assert str(dr.state) == "success"
        assert [k for k in ti_table(dag.dag_id, dr.run_id) if k[0] == "scan_redis"]
        r.hincrby("points:9001", "pending", 50)  # arrives after day 0 ran: belongs to the next day
        cur.execute("INSERT INTO redis_truth VALUES (9001, 50, %s)", (f"{d1}",))
        again = dag.test(run_conf=run)
        assert str(again.state) == "success"  # day 0 again: replays, folds nothing new
        limits = [n["time_limit_s"] for n in xcom_of(again, "plan_redis")]
        assert limits and all(300 <= s < 7_200 for s in limits), limits  # from day 0's fold, not the form's bound
        assert r.hget("points:9001", "pending") == b"50"
        assert str(dag.test(run_conf=conf(conn_id=CONN, day=str(d1), redis_conn_id=RCONN)).state) == "success"
        want = expected_state(cur, DB, ScoringConfig.from_dict(CONFIG), [d0, d1], (f"`{DB}`.redis_truth",))
        got = actual_state(cur, DB)
        assert got == want
        assert (9001, 180, "gold", d1) in got["scores"]
        assert r.hmget("points:9001", "pending", "applied") == [b"0", b"180"]
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {DB}")
