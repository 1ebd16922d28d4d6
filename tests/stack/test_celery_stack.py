"""End to end on the real loopback CeleryExecutor stack: Postgres metadata, Redis broker, api-server
with auth, scheduler, dag-processor, triggerer and two Celery workers (scripts/airflow_stack.sh).

Runs are triggered and inspected only through the public REST API, as an operator would; results are
checked against ground truth computed independently (arithmetic, or SQL on the source table).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bulkscan.ops import retry_chunk
from bulkscan.ops.api import AirflowApi
from tests.conftest import MYSQL_HOST, MYSQL_PORT
from tests.stack import stackctl

pytestmark = [pytest.mark.stack, pytest.mark.integration]

SMOKE = "bulkscan_stack_smoke"
SCAN = "bulkscan_table_scan"
SCAN_DB = "bs_stack_scan"
SCAN_RESULTS = "bs_stack_scan_results"
SCAN_CONN = "bs_stack_scan"
SCORING = "member_scoring"
SCORING_DB = "bs_stack_scoring"
SCORING_CONFIG = {
    "window_days": 3,
    "tiers": [{"name": "basic"}, {"name": "silver", "min_total": 40}, {"name": "gold", "min_total": 120}],
    "actions": {"coupon": {"min_day_score": 30}, "reward": {"tiers": ["gold"]}},
}
WORKERS = stackctl.WORKERS
STACK_HOME = stackctl.STACK_HOME
_stack = stackctl.run_script
trigger, finished, task_instances, xcom = stackctl.trigger, stackctl.finished, stackctl.task_instances, stackctl.xcom


def _wait(check: Any, timeout: float, what: str) -> Any:
    return stackctl.wait(check, timeout, what)


def test_mapped_tasks_run_on_both_workers(api: AirflowApi) -> None:
    run_id = trigger(api, SMOKE, {"n": 8, "hold_seconds": 3})
    assert finished(api, SMOKE, run_id) == "success"
    assert xcom(api, SMOKE, run_id, "total") == sum(i * i for i in range(8))
    squares = {m: t for (task, m), t in task_instances(api, SMOKE, run_id).items() if task == "square"}
    assert sorted(squares) == list(range(8))
    assert {t["state"] for t in squares.values()} == {"success"}
    assert {t["hostname"] for t in squares.values()} == WORKERS
    assert squares[5]["rendered_map_index"] == "chunk 5"


def test_each_worker_keeps_its_own_task_logs_and_the_api_reads_them_from_it(api: AirflowApi) -> None:
    """Workers as on machines of their own (scripts/airflow_stack.sh: a network namespace, an address
    and a log folder each): every task's log is written only to the folder of the worker that ran it,
    not to the other worker's nor to the folder of the api-server, and the REST API still returns it,
    read over HTTP from that worker's log server (the line the task printed, naming its worker)."""
    import json

    from bulkscan.ops.api import quote

    if (STACK_HOME / "run" / "netns").read_text().strip() != "1":
        pytest.skip("the stack runs without network namespaces (not root, or BULKSCAN_STACK_NETNS=0)")
    run_id = trigger(api, SMOKE, {"n": 8, "hold_seconds": 1})
    assert finished(api, SMOKE, run_id) == "success"
    squares = {m: t for (task, m), t in task_instances(api, SMOKE, run_id).items() if task == "square"}
    assert {t["hostname"] for t in squares.values()} == WORKERS  # both workers ran some

    def files(folder: Path, m: int) -> list[Path]:
        return [
            f
            for f in folder.rglob("attempt=*.log")
            if f"run_id={run_id}" in str(f) and f"/task_id=square/map_index={m}/" in str(f)
        ]

    for m, t in squares.items():
        host, other = t["hostname"], next(iter(WORKERS - {t["hostname"]}))
        assert files(STACK_HOME / "workers" / host / "logs", m), f"no log of square {m} on {host}"
        assert not files(STACK_HOME / "workers" / other / "logs", m)
        assert not files(STACK_HOME / "logs" / "tasks", m)  # the api-server's own folder
        path = f"/dags/{SMOKE}/dagRuns/{quote(run_id)}/taskInstances/square/logs/{t['try_number']}"
        text = json.dumps(api.get(path, map_index=m, full_content=True))
        assert f"square {m} ran on {host}" in text, text[-500:]


def test_one_failed_chunk_retried_by_map_index(
    api: AirflowApi, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fix = tmp_path / "fixed"
    run_id = trigger(api, SMOKE, {"n": 6, "hold_seconds": 0, "fail_index": 3, "fix_file": str(fix)})
    assert finished(api, SMOKE, run_id) == "failed"
    before = task_instances(api, SMOKE, run_id)
    assert before[("square", 3)]["state"] == "failed"
    assert before[("total", -1)]["state"] == "upstream_failed"
    args = [
        "--dag",
        SMOKE,
        "--run",
        run_id,
        "--task",
        "square",
        "--password-file",
        str(STACK_HOME / "passwords.json"),
    ]

    # The run's failed chunks by their Grid labels (the official client, logged in with user/password).
    capsys.readouterr()
    assert retry_chunk.main([*args, "--list"]) == 0
    listed = capsys.readouterr().out
    assert "square[3] 'chunk 3' failed at try" in listed and "1 failed chunk(s) of square" in listed
    # Any auth manager: a token from the environment is used as it is (here one the stack issued).
    monkeypatch.setenv("BULKSCAN_API_TOKEN", api.token())
    assert retry_chunk.main(["--dag", SMOKE, "--run", run_id, "--task", "square", "--list"]) == 0
    assert "square[3] 'chunk 3'" in capsys.readouterr().out
    monkeypatch.setenv("BULKSCAN_API_TOKEN", "not-a-token")
    assert retry_chunk.main(["--dag", SMOKE, "--run", run_id, "--task", "square", "--list"]) == 1
    monkeypatch.delenv("BULKSCAN_API_TOKEN")

    # A chunk that did not fail is left alone; a dry run changes nothing.
    assert retry_chunk.main([*args, "--index", "2"]) == 1
    assert retry_chunk.main([*args, "--index", "3", "--dry-run"]) == 0
    unchanged = task_instances(api, SMOKE, run_id)
    assert unchanged[("square", 3)]["state"] == "failed" and unchanged[("total", -1)]["state"] == "upstream_failed"
    assert stackctl.run_info(api, SMOKE, run_id)["state"] == "failed"  # nothing was reset

    fix.write_text("the cause is fixed")
    assert retry_chunk.main([*args, "--index", "3"]) == 0
    assert finished(api, SMOKE, run_id) == "success"
    after = task_instances(api, SMOKE, run_id)
    assert xcom(api, SMOKE, run_id, "total") == sum(i * i for i in range(6))
    for (task, m), ti in after.items():
        assert ti["state"] == "success", (task, m)
        if task == "square" and m != 3:
            assert ti["try_number"] == before[(task, m)]["try_number"], f"chunk {m} was re-run"
    assert after[("square", 3)]["try_number"] == before[("square", 3)]["try_number"] + 1


@pytest.fixture(scope="module")
def events(mysql_root: Any) -> Iterator[Any]:
    """200,000 source rows for bulkscan_table_scan, an attempts log, and a fresh results schema."""
    from bulkscan.mysqldb.connect import direct
    from devtools.demo.data import create_events

    admin = mysql_root()
    admin.cursor().execute(f"DROP DATABASE IF EXISTS {SCAN_RESULTS}")
    create_events(direct(MYSQL_HOST, MYSQL_PORT), SCAN_DB, "events", 200_000, users=1_000)
    cur = mysql_root(SCAN_DB).cursor()
    cur.execute("DROP TABLE IF EXISTS attempts")
    cur.execute("CREATE TABLE attempts (run_key VARCHAR(250), chunk_index INT, try_number INT, worker VARCHAR(64))")
    yield mysql_root
    for db in (SCAN_DB, SCAN_RESULTS):
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {db}")


def scan_conf(**overrides: Any) -> dict[str, Any]:
    conf = {
        "conn_id": SCAN_CONN, "table": "events", "key_column": "id", "group_column": "user_id",
        "value_column": "amount", "rows_per_chunk": 25_000, "max_chunks": 64, "max_parallel_chunks": 4,
        "results_schema": SCAN_RESULTS, "processor": "aggregate",
    }  # fmt: skip
    conf.update(overrides)
    return conf


def check_scan_exact(mysql_root: Any, run_id: str, attempts: dict[int, int] | None = None) -> None:
    """bulkscan_result of the run equals a GROUP BY on the source; every chunk was written once, or, for
    a chunk with several recorded `attempts` (a worker killed under it), at most once per attempt: an
    attempt killed after its write but before Airflow heard of its success is rewritten by its retry."""
    cur = mysql_root(SCAN_DB).cursor()
    cur.execute("SELECT user_id, SUM(amount), COUNT(*) FROM events GROUP BY user_id")
    truth = {str(g): (s, n) for g, s, n in cur.fetchall()}
    cur = mysql_root(SCAN_RESULTS).cursor()
    key = f"{SCAN}/{run_id}"
    cur.execute("SELECT group_key, value_sum, row_count FROM bulkscan_result WHERE run_key = %s", (key,))
    assert {g: (s, n) for g, s, n in cur.fetchall()} == truth
    cur.execute("SELECT chunk_index, writes FROM bulkscan_chunk WHERE run_key = %s", (key,))
    writes = dict(cur.fetchall())
    assert sorted(writes) == list(range(8))  # 200,000 rows / 25,000 per chunk
    for chunk, n in writes.items():
        assert 1 <= n <= (attempts or {}).get(chunk, 1), (chunk, n, attempts)


def test_table_scan_on_the_stack_is_exact(api: AirflowApi, events: Any) -> None:
    run_id = trigger(api, SCAN, scan_conf())
    assert finished(api, SCAN, run_id) == "success"
    check_scan_exact(events, run_id)
    chunks = [t for (task, _), t in task_instances(api, SCAN, run_id).items() if task == "scan_chunk"]
    assert len(chunks) == 8
    assert {t["hostname"] for t in chunks} == WORKERS


def test_chunks_beyond_the_pool_wait_scheduled_holding_no_worker(api: AirflowApi, events: Any) -> None:
    """The MySQL host's pool has 2 slots, the run 8 ready chunks and the workers 4 slots: at most 2 chunks
    ever run, the rest wait *scheduled* (in the scheduler, not inside a worker), and meanwhile another
    DAG's tasks run on the free worker slots. The result is still exact."""
    pool = {"pool": "bulkscan_mysql", "include_deferred": False}
    api.patch("/pools/bulkscan_mysql", {**pool, "slots": 2})
    try:
        slow = {"group": "user_id", "value": "amount", "seconds": 4.0}
        conf = scan_conf(max_parallel_chunks=8, processor="tests.stack.slow:slow_aggregate", processor_args=slow)
        run_id = trigger(api, SCAN, conf)
        seen: list[dict[str, int]] = []
        other = None
        while stackctl.run_info(api, SCAN, run_id)["state"] not in ("success", "failed"):
            states = [t["state"] for (task, _), t in task_instances(api, SCAN, run_id).items() if task == "scan_chunk"]
            seen.append({s: states.count(s) for s in set(states)})
            if other is None and seen[-1].get("running") == 2 and seen[-1].get("scheduled", 0) >= 2:
                other = trigger(api, SMOKE, {"n": 2, "hold_seconds": 0})  # needs free worker slots now
                other_done = finished(api, SMOKE, other, timeout=60)
                waiting_meanwhile = [
                    t["state"] for (task, _), t in task_instances(api, SCAN, run_id).items() if task == "scan_chunk"
                ].count("scheduled")
            time.sleep(0.5)
    finally:
        api.patch("/pools/bulkscan_mysql", {**pool, "slots": 8})
    assert finished(api, SCAN, run_id) == "success"
    check_scan_exact(events, run_id)
    assert max(s.get("running", 0) for s in seen) == 2, seen  # never more than the pool's slots
    assert other is not None, f"never saw 2 running with others waiting: {seen}"
    assert other_done == "success" and waiting_meanwhile >= 1, (other_done, waiting_meanwhile)
    pools = {t["pool"] for (task, _), t in task_instances(api, SCAN, run_id).items() if task == "scan_chunk"}
    assert pools == {"bulkscan_mysql"}


def test_alerts_reach_a_webhook_for_a_failed_chunk_and_a_missed_deadline(api: AirflowApi, events: Any) -> None:
    """Through the stack's `bulkscan_alerts` connection to a real HTTP receiver on loopback: a chunk that
    failed for good is named (DAG, run, task, map index, Grid label, error) once, from its worker; a
    member_scoring run that missed its deadline (0 minutes on this stack) is named from the triggerer."""
    from bulkscan.jobs.member_scoring.config import ScoringConfig
    from bulkscan.jobs.member_scoring.store import ScoringStore
    from bulkscan.mysqldb.connect import direct
    from tests import receivers

    events().cursor().execute(f"DROP DATABASE IF EXISTS {SCORING_DB}")
    config = ScoringConfig.from_dict(SCORING_CONFIG)
    ScoringStore(direct(MYSQL_HOST, MYSQL_PORT), SCORING_DB, config).ensure(with_flow_table=True)
    cur = events(SCAN_DB).cursor()
    cur.execute("CREATE TABLE IF NOT EXISTS faults (chunk_index INT PRIMARY KEY)")
    cur.execute("REPLACE INTO faults VALUES (3)")
    faulty = {"control_db": SCAN_DB, "group": "user_id", "value": "amount", "mode": "table", "port": MYSQL_PORT}
    with receivers.webhook(stackctl.ALERT_PORT) as (_, got):
        try:
            run_id = trigger(api, SCAN, scan_conf(processor="tests.processors:faulty_aggregate", processor_args=faulty))
            assert finished(api, SCAN, run_id) == "failed"
        finally:
            cur.execute("DELETE FROM faults")
        ti = task_instances(api, SCAN, run_id)[("scan_chunk", 3)]
        failed = _wait(lambda: [a for a in got if a.get("run_id") == run_id], 30, "the failure alert")
        late_run = trigger(api, SCORING, {"conn_id": SCORING_DB, "config": SCORING_CONFIG, "day": "2026-04-01"})

        def missed() -> list[dict[str, Any]]:
            return [a for a in got if a.get("run_id") == late_run and "deadline" in a["text"]]

        late = _wait(missed, 90, "the missed-deadline alert")
        scoring_state = finished(api, SCORING, late_run)
    assert len(failed) == 1, failed  # once, for the try that failed for good
    (alert,) = failed
    assert (alert["dag_id"], alert["task_id"], alert["map_index"]) == (SCAN, "scan_chunk", 3)
    assert alert["label"] == ti["rendered_map_index"] and alert["try_number"] == ti["try_number"] > 1
    assert "injected fault in chunk 3" in alert["error"] and run_id in alert["text"]
    assert late[0]["dag_id"] == SCORING and "missed its deadline" in late[0]["text"]
    assert scoring_state == "success"  # a missed deadline alerts; it does not stop the run


def test_an_upstream_asset_event_starts_member_scoring_for_its_day(api: AirflowApi, mysql_root: Any) -> None:
    """The loader of t_flow says a day is complete (an asset event on flows_complete, extra {"day"}):
    member_scoring starts (asset-triggered, the DAG's defaults), applies that day exactly, and emits
    member_score with the day's counts, which the API shows as the run's output."""
    import random
    from datetime import date, datetime, timedelta

    from bulkscan.jobs.member_scoring.settings import DEFAULT_CONFIG, resolve_config
    from bulkscan.jobs.member_scoring.store import ScoringStore
    from bulkscan.mysqldb.connect import direct
    from tests.member_scoring.scoring_truth import actual_state, expected_state

    db = "bs_stack_default"  # the stack's bulkscan_mysql connection: a run without conf reads it
    mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {db}")
    config = resolve_config(DEFAULT_CONFIG)  # include/scoring.yaml: UTC business days
    ScoringStore(direct(MYSQL_HOST, MYSQL_PORT), db, config).ensure(with_flow_table=True)
    day = date(2026, 5, 4)
    rng = random.Random(9)
    start = datetime.combine(day, datetime.min.time())
    rows = [
        (rng.randrange(1, 200), rng.randint(1, 40), start + timedelta(seconds=rng.randrange(86400))) for _ in range(900)
    ]
    cur = mysql_root(db).cursor()
    cur.executemany("INSERT INTO t_flow (uid, score, created_at) VALUES (%s, %s, %s)", rows)
    try:
        before = {r["dag_run_id"] for r in api.get(f"/dags/{SCORING}/dagRuns", limit=100)["dag_runs"]}
        api.patch(f"/dags/{SCORING}", {"is_paused": False})
        (upstream,) = api.get("/assets", uri_pattern="member_scoring/flows_complete")["assets"]
        api.post("/assets/events", {"asset_id": upstream["id"], "extra": {"day": str(day)}})

        def started() -> list[dict[str, Any]]:
            runs = api.get(f"/dags/{SCORING}/dagRuns", limit=100)["dag_runs"]
            return [r for r in runs if r["dag_run_id"] not in before]

        (run,) = _wait(started, 60, "the asset-triggered member_scoring run")
        assert run["run_type"] == "asset_triggered", run
        assert finished(api, SCORING, run["dag_run_id"]) == "success"
        want = expected_state(cur, db, config, [day])
        got = actual_state(cur, db)
        assert got["scores"] == want["scores"] and got["actions"] == want["actions"]
        cur.execute("SELECT day, flows FROM scoring_ledger")
        assert list(cur.fetchall()) == [(day, 900)]
        (output,) = api.get("/assets", uri_pattern="member_scoring/member_score")["assets"]
        events = api.get("/assets/events", asset_id=output["id"], source_run_id=run["dag_run_id"])["asset_events"]
        assert [(e["extra"]["day"], e["extra"]["flows"]) for e in events] == [(str(day), 900)]
    finally:
        mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {db}")


def test_member_scoring_days_on_the_stack_are_exact(api: AirflowApi, mysql_root: Any) -> None:
    import random
    from datetime import date, datetime, timedelta

    from bulkscan.jobs.member_scoring.config import ScoringConfig
    from bulkscan.jobs.member_scoring.store import ScoringStore
    from bulkscan.mysqldb.connect import direct
    from tests.member_scoring.scoring_truth import actual_state, expected_state

    admin = mysql_root()
    admin.cursor().execute(f"DROP DATABASE IF EXISTS {SCORING_DB}")
    config = ScoringConfig.from_dict(SCORING_CONFIG)
    ScoringStore(direct(MYSQL_HOST, MYSQL_PORT), SCORING_DB, config).ensure(with_flow_table=True)
    days = [date(2026, 4, 1) + timedelta(days=i) for i in range(3)]
    rng = random.Random(5)
    rows = [
        (rng.randrange(1, 300), rng.randint(-10, 30), datetime.combine(day, datetime.min.time())
         + timedelta(seconds=rng.randrange(86400)))
        for day in (days[0], days[2])  # the middle day has no flows at all
        for _ in range(2_000)
    ]  # fmt: skip
    cur = mysql_root(SCORING_DB).cursor()
    cur.executemany("INSERT INTO t_flow (uid, score, created_at) VALUES (%s, %s, %s)", rows)
    try:
        for day in days:  # one run per day, in order, as the schedule would
            conf = {"conn_id": SCORING_DB, "config": SCORING_CONFIG, "day": str(day), "rows_per_chunk": 500,
                    "max_chunks": 8, "max_parallel_chunks": 4}  # fmt: skip
            run_id = trigger(api, SCORING, conf)
            assert finished(api, SCORING, run_id) == "success", day
            scans = [t for (task, m), t in task_instances(api, SCORING, run_id).items() if task == "scan_flows"]
            if day != days[1]:
                assert len(scans) == 4 and {t["hostname"] for t in scans} <= WORKERS  # 2,000 flows / 500
        want = expected_state(cur, SCORING_DB, config, days)
        got = actual_state(cur, SCORING_DB)
        assert got["scores"] == want["scores"]
        assert got["actions"] == want["actions"]
        cur.execute("SELECT day, flows FROM scoring_ledger ORDER BY day")
        assert list(cur.fetchall()) == [(days[0], 2_000), (days[1], 0), (days[2], 2_000)]
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {SCORING_DB}")


def test_worker_killed_mid_chunk_chunk_retried_result_exact(api: AirflowApi, events: Any) -> None:
    """SIGKILL the worker (its whole process group: pool, supervisor, task) while chunk 5 is half done.

    The scheduler notices the lost heartbeat, the chunk is retried on the surviving worker, and the
    result is still exact: nothing lost, nothing counted twice.
    """
    stall = {"control_db": SCAN_DB, "group": "user_id", "value": "amount", "stall_chunk": 5,
             "seconds": 600, "port": MYSQL_PORT}  # fmt: skip
    run_id = trigger(api, SCAN, scan_conf(processor="tests.stack.stall:stalling_aggregate", processor_args=stall))
    key = f"{SCAN}/{run_id}"
    cur = events(SCAN_DB).cursor()

    def stalled_on() -> str | None:
        cur.execute("SELECT worker FROM attempts WHERE run_key = %s AND chunk_index = 5", (key,))
        row = cur.fetchone()
        return row[0] if row else None

    victim = _wait(stalled_on, 120, "chunk 5 to start")
    assert victim in WORKERS
    pid = int((STACK_HOME / "run" / f"worker-{victim}.pid").read_text())
    time.sleep(2)  # well inside the 600 s stall
    os.killpg(pid, 9)  # the worker's own process group (started with setsid by airflow_stack.sh)
    try:
        assert finished(api, SCAN, run_id) == "success"
        cur.execute(
            "SELECT chunk_index, try_number, worker FROM attempts WHERE run_key = %s ORDER BY chunk_index, try_number",
            (key,),
        )
        runs: dict[int, list[tuple[int, str]]] = {}
        for chunk, attempt, worker in cur.fetchall():
            runs.setdefault(chunk, []).append((attempt, worker))
        check_scan_exact(events, run_id, {chunk: len(a) for chunk, a in runs.items()})
        (survivor,) = WORKERS - {victim}
        tis = task_instances(api, SCAN, run_id)
        # Chunk 5 was cut off on the victim and finished on the survivor. Other chunks the victim was
        # running at that moment are retried too (an attempt killed before its scan began leaves no
        # row); each chunk's last recorded attempt is the one its task instance succeeded with.
        assert runs[5][0] == (1, victim) and runs[5][-1][1] == survivor
        assert sorted(runs) == list(range(8))
        for chunk, attempts in runs.items():
            tries = [a for a, _ in attempts]
            ti = tis[("scan_chunk", chunk)]
            assert tries == sorted(set(tries)) and ti["try_number"] == tries[-1], (chunk, attempts)
            assert ti["state"] == "success", (chunk, ti["state"])
        assert tis[("scan_chunk", 5)]["hostname"] == survivor
    finally:
        restarted = _stack("start", 300)  # brings the killed worker back
        assert restarted.returncode == 0, restarted.stderr


def test_worker_killed_mid_batch_retry_resumes_from_checkpoint_outbox_exactly_once(
    api: AirflowApi, events: Any
) -> None:
    """Seed 000's per-row messages on the stack: SIGKILL the worker while chunk 3's first try holds its
    third batch, processed but not yet checkpointed. The retry (on the other worker) starts from the
    checkpoint, replays exactly that batch (flagged), and the outbox holds every row's message once."""
    from tests.table_scan.resume_truth import SEEN, check_resumed_exactly_once

    cur = events(SCAN_DB).cursor()
    cur.execute("DROP TABLE IF EXISTS seen")
    cur.execute(SEEN)
    args = {"control_db": SCAN_DB, "column": "user_id", "fail_at": [3, 3], "mode": "stall", "port": MYSQL_PORT}
    conf = scan_conf(
        processor="tests.processors:recording_messages", processor_args=args, batch_seconds=30, rows_per_chunk=50_000
    )
    conf.pop("group_column"), conf.pop("value_column")
    run_id = trigger(api, SCAN, conf)
    key = f"{SCAN}/{run_id}"

    def holding_batch_3() -> str | None:
        cur.execute(
            "SELECT COUNT(*) FROM seen WHERE run_key = %s AND chunk_index = 3 AND try_number = 1 AND batch = 3",
            (key,),
        )
        if not cur.fetchone()[0]:
            return None
        return task_instances(api, SCAN, run_id)[("scan_chunk", 3)].get("hostname") or None

    victim = _wait(holding_batch_3, 180, "chunk 3 to hold its third batch")
    assert victim in WORKERS
    pid = int((STACK_HOME / "run" / f"worker-{victim}.pid").read_text())
    os.killpg(pid, 9)
    try:
        assert finished(api, SCAN, run_id) == "success"
        check_resumed_exactly_once(cur, SCAN_RESULTS, key, (3, 3), 200_000)
        ti = task_instances(api, SCAN, run_id)[("scan_chunk", 3)]
        (survivor,) = WORKERS - {victim}
        assert ti["hostname"] == survivor and ti["try_number"] >= 2
    finally:
        restarted = _stack("start", 300)
        assert restarted.returncode == 0, restarted.stderr


def test_member_scoring_backfill_create_then_reprocess_completed(api: AirflowApi, mysql_root: Any) -> None:
    """`airflow backfill create` over three past business days runs them in order on the workers; after
    late flows, the same command with `--reprocess-behavior completed` re-runs every completed day (the
    re-run path), and the tables end exactly as in-order processing of the final flows leaves them."""
    import json
    import random
    from datetime import UTC, date, datetime, timedelta

    from bulkscan.jobs.member_scoring.config import ScoringConfig
    from bulkscan.jobs.member_scoring.store import ScoringStore
    from bulkscan.mysqldb.connect import direct
    from tests.member_scoring.scoring_truth import actual_state, expected_state

    db = "bs_stack_backfill"
    admin = mysql_root()
    admin.cursor().execute(f"DROP DATABASE IF EXISTS {db}")
    config = ScoringConfig.from_dict(SCORING_CONFIG)
    ScoringStore(direct(MYSQL_HOST, MYSQL_PORT), db, config).ensure(with_flow_table=True)
    # Backfills refuse future dates: three business days (UTC, the default calendar) well in the past.
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=8 - i) for i in range(3)]
    rng = random.Random(11)

    def flows(day: date, n: int) -> list[tuple[int, int, datetime]]:
        base = datetime.combine(day, datetime.min.time())
        return [(rng.randrange(1, 200), rng.randint(-10, 30), base + timedelta(seconds=rng.randrange(86400)))
                for _ in range(n)]  # fmt: skip

    cur = mysql_root(db).cursor()
    insert = "INSERT INTO t_flow (uid, score, created_at) VALUES (%s, %s, %s)"
    cur.executemany(insert, [f for d in days for f in flows(d, 1_200)])
    conf = {"conn_id": db, "config": SCORING_CONFIG, "rows_per_chunk": 500, "max_chunks": 8, "max_parallel_chunks": 4}
    # The run for business day D fires at D + 1 00:30 UTC (midnight plus the 30-minute grace).
    window = [
        "--from-date",
        f"{days[0] + timedelta(days=1)}T00:00:00",
        "--to-date",
        f"{days[-1] + timedelta(days=1)}T01:00:00",
    ]

    def backfill(*extra: str) -> dict[str, Any]:
        api.patch(f"/dags/{SCORING}", {"is_paused": False})
        out = stackctl.airflow_cli(
            "backfill", "create", "--dag-id", SCORING, *window, "--max-active-runs", "1",
            "--dag-run-conf", json.dumps(conf), *extra,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout + out.stderr
        backfills = api.get("/backfills", dag_id=SCORING, limit=100)["backfills"]
        latest = max(backfills, key=lambda b: b["id"])
        return dict(_wait(lambda: (b := api.get(f"/backfills/{latest['id']}"))["completed_at"] and b, 600, "backfill"))

    def runs() -> dict[str, dict[str, Any]]:
        got = api.get(f"/dags/{SCORING}/dagRuns", limit=100, run_type=["backfill"])["dag_runs"]
        return {r["logical_date"][:10]: r for r in got}

    try:
        # A stack reused from an earlier session keeps its runs: start clean. Not only backfill runs: once
        # unpaused after a backfill, the scheduler catches the DAG up by the clock from the backfill's last
        # day, and a catch-up run left from an earlier day makes the backfill skip that day (found when the
        # window moved past midnight onto such a run).
        stale = api.get(
            f"/dags/{SCORING}/dagRuns",
            limit=100,
            logical_date_gte=f"{days[0]}T00:00:00Z",
            logical_date_lte=f"{days[-1]}T23:59:59Z",
        )["dag_runs"]
        for run in stale:
            api.delete(f"/dags/{SCORING}/dagRuns/{stackctl.quote(run['dag_run_id'])}")
        backfill("--reprocess-behavior", "none")
        first = runs()
        assert sorted(first) == [str(d) for d in days]  # logical date: the interval start, the business day
        assert {r["state"] for r in first.values()} == {"success"}
        cur.execute("SELECT day, flows, runs FROM scoring_ledger ORDER BY day")
        assert list(cur.fetchall()) == [(d, 1_200, 1) for d in days]
        assert actual_state(cur, db) == expected_state(cur, db, config, days)

        cur.executemany(insert, flows(days[1], 90))  # late writers, after the day was applied
        backfill("--reprocess-behavior", "completed")
        again = runs()
        assert {k: r["dag_run_id"] for k, r in again.items()} == {k: r["dag_run_id"] for k, r in first.items()}
        assert {r["state"] for r in again.values()} == {"success"}
        cur.execute("SELECT day, flows, runs, last_step FROM scoring_ledger ORDER BY day")
        assert list(cur.fetchall()) == [(days[0], 1_200, 2, "rerun"), (days[1], 1_290, 2, "rerun"),
                                        (days[2], 1_200, 2, "rerun")]  # fmt: skip
        assert actual_state(cur, db) == expected_state(cur, db, config, days)
    finally:
        api.patch(f"/dags/{SCORING}", {"is_paused": True})
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {db}")
