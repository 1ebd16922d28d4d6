"""member_scoring on the shop's calendar, through whole DAG runs: flows stored in UTC are cut into
Europe/Berlin business days across the autumn daylight-saving change (a 25-hour day), each flow in
exactly one day; and a calendar changed after days were applied is refused before anything is read.

Ground truth: each flow's business day is its instant's local date, computed in Python with zoneinfo.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bulkscan.jobs.member_scoring.config import ScoringConfig
from bulkscan.jobs.member_scoring.store import ScoringStore
from bulkscan.mysqldb.connect import direct
from tests.airflow_helpers import load_dag, ti_table
from tests.conftest import MYSQL_HOST, MYSQL_PORT

pytestmark = [pytest.mark.integration, pytest.mark.dagrun]
DB = "bs_scoring_calendar"
CONN = "bs_scoring_calendar"
BERLIN = ZoneInfo("Europe/Berlin")
CONFIG = {
    "window_days": 2,
    "tiers": [{"name": "basic"}, {"name": "silver", "min_total": 50}],
    "actions": {"upgrade": True, "downgrade": True},
    "calendar": {"timezone": "Europe/Berlin", "created_at": "utc", "grace_minutes": 30},
}
DAYS = [date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)]


def instants() -> list[datetime]:
    """Every 20 minutes from 23 Oct 20:00 UTC to 27 Oct 00:00 UTC, plus each second either side of the
    local midnights and of the change (25 Oct 01:00 UTC, when 03:00 CEST becomes 02:00 CET)."""
    out = []
    t = datetime(2026, 10, 23, 20, 0, tzinfo=UTC)
    while t < datetime(2026, 10, 27, 0, 0, tzinfo=UTC):
        out.append(t)
        t += timedelta(minutes=20)
    for edge in (
        datetime(2026, 10, 23, 22, 0, tzinfo=UTC),
        datetime(2026, 10, 24, 22, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 23, 0, tzinfo=UTC),
        datetime(2026, 10, 26, 23, 0, tzinfo=UTC),
    ):
        out += [edge - timedelta(seconds=1), edge + timedelta(seconds=1)]
    return out


@pytest.fixture(scope="module")
def source(mysql_root: Any) -> Any:
    os.environ[f"AIRFLOW_CONN_{CONN.upper()}"] = f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{DB}"
    mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {DB}")
    ScoringStore(direct(MYSQL_HOST, MYSQL_PORT), DB, ScoringConfig.from_dict(CONFIG)).ensure(with_flow_table=True)
    rows = [(1 + i % 7, 1 + i % 5, t.replace(tzinfo=None)) for i, t in enumerate(instants())]
    mysql_root(DB).cursor().executemany("INSERT INTO t_flow (uid, score, created_at) VALUES (%s, %s, %s)", rows)
    yield mysql_root
    mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {DB}")


def conf(**overrides: Any) -> dict[str, Any]:
    return {
        "conn_id": CONN,
        "config": CONFIG,
        "rows_per_chunk": 1_000,
        "max_chunks": 8,
        "max_parallel_chunks": 2,
        "mode": "apply",
        "day": "",
        "shards": "",
        "redis_conn_id": "",
        "processor": "aggregate",
        "processor_args": {},
        **overrides,
    }


def truth() -> tuple[Counter[date], dict[tuple[date, int], tuple[int, int]]]:
    """Flows per business day, and (score, flows) per (day, uid), from the generated instants."""
    per_day: Counter[date] = Counter()
    sums: dict[tuple[date, int], tuple[int, int]] = {}
    for i, t in enumerate(instants()):
        day = t.astimezone(BERLIN).date()
        if day not in DAYS:
            continue
        per_day[day] += 1
        s, n = sums.get((day, 1 + i % 7), (0, 0))
        sums[(day, 1 + i % 7)] = (s + 1 + i % 5, n + 1)
    return per_day, sums


def test_berlin_days_across_the_autumn_change_each_flow_in_exactly_one_day(source: Any) -> None:
    dag = load_dag("member_scoring")
    for day in DAYS:
        # the scheduled run of a Berlin day fires at the next local midnight plus the grace period
        fires = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=BERLIN) + timedelta(minutes=30)
        dr = dag.test(logical_date=fires, run_conf=conf())
        assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
        labels = [v[2] for (t, m), v in ti_table(dag.dag_id, dr.run_id).items() if t == "scan_flows" and m >= 0]
        assert labels and all(label.startswith(f"{day} ") for label in labels)  # the business day, in the Grid
    per_day, sums = truth()
    # the 25-hour day: 75 twenty-minute marks, the second after its opening midnight, both seconds around
    # the change and the second before its closing midnight
    assert per_day[date(2026, 10, 25)] == 25 * 3 + 4
    cur = source(DB).cursor()
    cur.execute("SELECT day, flows, calendar FROM scoring_ledger ORDER BY day")
    assert [(d, n, c) for d, n, c in cur.fetchall()] == [
        (d, per_day[d], "Europe/Berlin (created_at utc)") for d in DAYS
    ]
    cur.execute("SELECT day, uid, score_sum, flows FROM flow_day_sum")
    assert {(d, u): (s, n) for d, u, s, n in cur.fetchall()} == sums


def test_changing_the_calendar_after_days_were_applied_is_refused(source: Any) -> None:
    dag = load_dag("member_scoring")
    moved = {**CONFIG, "calendar": {"timezone": "Asia/Shanghai", "created_at": "utc"}}
    cur = source(DB).cursor()
    cur.execute("SELECT COUNT(*), SUM(runs) FROM scoring_ledger")
    before = cur.fetchone()
    dr = dag.test(run_conf=conf(config=moved, day=str(DAYS[-1] + timedelta(days=1))))
    tis = ti_table(dag.dag_id, dr.run_id)
    assert str(dr.state) == "failed" and tis[("plan", -1)][0] == "failed" and tis[("plan", -1)][1] == 1
    cur.execute("SELECT COUNT(*), SUM(runs) FROM scoring_ledger")
    assert cur.fetchone() == before  # nothing applied


def test_the_refusal_names_both_calendars_and_the_way_out(source: Any) -> None:
    from bulkscan.errors import BulkscanInputError

    moved = ScoringConfig.from_dict({**CONFIG, "calendar": {"timezone": "Asia/Shanghai", "created_at": "utc"}})
    store = ScoringStore(direct(MYSQL_HOST, MYSQL_PORT), DB, moved)
    with pytest.raises(
        BulkscanInputError,
        match=r"3 applied day\(s\), 2026-10-24 \.\. 2026-10-26, were cut into business days by the calendar "
        r"Europe/Berlin \(created_at utc\); this configuration says Asia/Shanghai \(created_at utc\).*rebuild",
    ):
        store.check_next(date(2026, 10, 27))
