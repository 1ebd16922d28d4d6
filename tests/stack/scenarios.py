"""The fault scenarios of issue 6, as plain functions over a running stack (tests and `make soak`).

Each returns a Tally counted from an exact-result check against ground truth computed independently
of bulkscan (a GROUP BY on the source, or the sweep rule applied to the data as loaded): `lost` counts
rows/keys missing from the result, `doubled` rows/keys counted or applied more than once (or written
where nothing may be written). The tests assert both are 0; the soak adds them up.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import MySQLdb

from bulkscan.ops.api import AirflowApi, ApiError
from tests.stack import stackctl as sc

SCAN = "bulkscan_table_scan"
SWEEP = "bulkscan_redis_sweep"
FAULT_DB = "bs_fault_scan"
FAULT_RESULTS = "bs_fault_scan_results"
M2_DB = "bs_fault_m2"
M2_RESULTS = "bs_fault_m2_results"
BAD_RESULTS = "bs_fault_bad_results"
ROWS = 100_000
CHUNK_ROWS = 12_500  # 8 chunks


@dataclass
class Tally:
    runs: int = 0
    lost: int = 0
    doubled: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.runs += other.runs
        self.lost += other.lost
        self.doubled += other.doubled
        self.notes += other.notes


def mysql(db: str | None = None, port: int = sc.MYSQL_PORT) -> Any:
    return MySQLdb.connect(host=sc.MYSQL_HOST, port=port, user="root", database=db or "", autocommit=True)


def ensure_events(db: str, port: int = sc.MYSQL_PORT) -> None:
    """100,000 source rows (created once, reused while the table still holds exactly that many)."""
    from bulkscan.mysqldb.connect import direct
    from devtools.demo.data import create_events

    create_events(direct(sc.MYSQL_HOST, port), db, "events", ROWS, users=500)


def scan_conf(conn_id: str, results_schema: str, **overrides: Any) -> dict[str, Any]:
    conf = {
        "conn_id": conn_id, "table": "events", "key_column": "id", "group_column": "user_id",
        "value_column": "amount", "rows_per_chunk": CHUNK_ROWS, "max_chunks": 64, "max_parallel_chunks": 4,
        "results_schema": results_schema, "processor": "aggregate",
    }  # fmt: skip
    conf.update(overrides)
    return conf


def slow(seconds: float) -> dict[str, Any]:
    """The aggregate processor, holding each chunk attempt `seconds` first (keeps runs open for faults)."""
    return {
        "processor": "tests.stack.slow:slow_aggregate",
        "processor_args": {"group": "user_id", "value": "amount", "seconds": seconds},
    }


def scan_tally(db: str, results: str, run_id: str, port: int = sc.MYSQL_PORT) -> Tally:
    """Per group, rows in the run's result vs a GROUP BY on the source (sums must match too)."""
    cur = mysql(db, port).cursor()
    cur.execute("SELECT user_id, SUM(amount), COUNT(*) FROM events GROUP BY user_id")
    truth = {str(g): (s, n) for g, s, n in cur.fetchall()}
    try:
        cur.execute(
            f"SELECT group_key, value_sum, row_count FROM `{results}`.bulkscan_result WHERE run_key = %s",
            (f"{SCAN}/{run_id}",),
        )
        got = {g: (s, n) for g, s, n in cur.fetchall()}
    except MySQLdb.ProgrammingError:
        got = {}
    t = Tally(runs=1)
    for g in truth.keys() | got.keys():
        (ts, tn), (gs, gn) = truth.get(g, (0, 0)), got.get(g, (0, 0))
        t.lost += max(0, tn - gn)
        t.doubled += max(0, gn - tn)
        if tn == gn and ts != gs:
            t.lost += 1  # same count, wrong sum: something was replaced by something else
    if t.lost or t.doubled:
        t.notes.append(f"{SCAN} {run_id}: lost {t.lost} doubled {t.doubled}")
    return t


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- two triggers at once ------------------------------------------------------------------------


def concurrent_triggers(api: AirflowApi) -> tuple[Tally, dict[str, Any]]:
    """Two triggers of bulkscan_table_scan at once: the second waits (max_active_runs=1).

    Returns the tally and the evidence: the runs' intervals and every scan task's interval.
    """
    ensure_events(FAULT_DB)
    conf = scan_conf("bs_fault_scan", FAULT_RESULTS, **slow(1.0))
    first = sc.trigger(api, SCAN, conf)
    second = sc.trigger(api, SCAN, conf)
    seen_queued_while_running = False

    def both_done() -> bool:
        nonlocal seen_queued_while_running
        a, b = sc.run_info(api, SCAN, first)["state"], sc.run_info(api, SCAN, second)["state"]
        if {a, b} == {"running", "queued"}:
            seen_queued_while_running = True
        return a in ("success", "failed") and b in ("success", "failed")

    sc.wait(both_done, 2 * sc.RUN_TIMEOUT, "both runs", every=1)
    runs = {r: sc.run_info(api, SCAN, r) for r in (first, second)}
    tis = {r: sc.task_instances(api, SCAN, r) for r in (first, second)}
    tally = Tally()
    for r in (first, second):
        tally.add(scan_tally(FAULT_DB, FAULT_RESULTS, r))
    early, late = sorted(runs, key=lambda r: _ts(runs[r]["start_date"]))
    evidence = {
        "states": {r: runs[r]["state"] for r in runs},
        "seen_queued_while_running": seen_queued_while_running,
        "early_end": _ts(runs[early]["end_date"]),
        "late_start": _ts(runs[late]["start_date"]),
        # tasks that ran (scan_rest is skipped, never started, when no chunk was split)
        "early_last_task_end": max(_ts(t["end_date"]) for t in tis[early].values() if t["end_date"]),
        "late_first_task_start": min(_ts(t["start_date"]) for t in tis[late].values() if t["start_date"]),
    }
    return tally, evidence


# --- MariaDB restarted mid-run ----------------------------------------------------------------------


def mysql2(command: str) -> None:
    env = {"BULKSCAN_MYSQL2_PORT": str(sc.MYSQL2_PORT), "PATH": "/usr/sbin:/usr/bin:/bin:/sbin"}
    done = subprocess.run(
        [str(sc.ROOT / "scripts" / "mysql2.sh"), command], env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"mysql2.sh {command}: {done.stdout}{done.stderr}")


def mysql_restart(api: AirflowApi) -> tuple[Tally, dict[str, Any]]:
    """Restart the dedicated source server (127.0.0.1:3318) while chunks are scanning."""
    mysql2("start")
    ensure_events(M2_DB, sc.MYSQL2_PORT)
    run_id = sc.trigger(api, SCAN, scan_conf("bs_fault_mysql2", M2_RESULTS, **slow(2.0)))

    def scanning() -> bool:
        chunks = [t for (task, _), t in sc.task_instances(api, SCAN, run_id).items() if task == "scan_chunk"]
        return any(t["state"] == "running" for t in chunks)

    sc.wait(scanning, 120, "a chunk to be scanning", every=0.5)
    time.sleep(1)
    restarted_at = datetime.now().astimezone()
    mysql2("restart")
    state = sc.finished(api, SCAN, run_id)
    tally = scan_tally(M2_DB, M2_RESULTS, run_id, sc.MYSQL2_PORT)
    if state != "success":
        tally.notes.append(f"mysql restart run {run_id} ended {state}")
    chunks = {m: t for (task, m), t in sc.task_instances(api, SCAN, run_id).items() if task == "scan_chunk"}
    evidence = {
        "state": state,
        "restarted_at": restarted_at,
        "chunks_ended_after_restart": sum(_ts(t["end_date"]) > restarted_at for t in chunks.values()),
        "retried_chunks": sorted(m for m, t in chunks.items() if t["try_number"] > 1),
        "summary": sc.xcom(api, SCAN, run_id, "summarize") if state == "success" else None,
    }
    return tally, evidence


# --- Redis primary failed over mid-sweep --------------------------------------------------------------


def start_cluster() -> Any:
    from devtools.localcluster import LocalCluster

    return LocalCluster(base_port=sc.CLUSTER_BASE_PORT).start()


def sweep_tally(cluster: Any, data: Any) -> Tally:
    """Every key's field_2 against the sweep rule applied once to the data as loaded."""
    from bulkscan.core.sweep import APPLIED
    from tests.redis_sweep.conftest import cluster_client

    rc = cluster_client(cluster)
    keys = list(data.before)
    pipe = rc.pipeline()
    for k in keys:
        pipe.hget(k, b"field_2")
    got = dict(zip(keys, pipe.execute(), strict=True))
    rc.close()
    t = Tally(runs=1)
    for k, (status, after) in data.truth.items():
        before = data.before[k].get(b"field_2")
        if status != APPLIED:
            t.doubled += got[k] != before  # touched although the rule says leave it
        elif got[k] == before:
            t.lost += 1
        elif got[k] != str(after).encode():
            t.doubled += 1  # applied twice (or otherwise more than once)
    if t.lost or t.doubled:
        t.notes.append(f"sweep: lost {t.lost} doubled {t.doubled}")
    return t


def redis_failover(api: AirflowApi, cluster: Any, keys: int = 60_000) -> tuple[Tally, dict[str, Any]]:
    """Fail over the primary of a node task that is in the middle of its sweep (CLUSTER FAILOVER)."""
    from tests.redis_sweep.conftest import load

    cluster.wait_ok()
    cluster.flushall()
    data = load(cluster, n=keys)
    conf = {"redis_conn_id": "bs_fault_cluster", "pattern": "sweep:*", "scan_count": 10}
    run_id = sc.trigger(api, SWEEP, conf)

    def sweeping() -> dict[str, Any] | None:
        for (task, _), t in sc.task_instances(api, SWEEP, run_id).items():
            if task == "sweep_node" and t["state"] == "running":
                return t
        return None

    ti = sc.wait(sweeping, 120, "a node task to be sweeping", every=0.3)
    port = int(sc.xcom(api, SWEEP, run_id, "plan")[ti["map_index"]]["port"])  # the label renders at the end
    replica = cluster.replica_of(port)
    failed_over_at = datetime.now().astimezone()
    cluster.client(replica).execute_command("CLUSTER", "FAILOVER")
    sc.wait(lambda: cluster.client(replica).info("replication")["role"] == "master", 30, "failover", every=0.1)
    state = sc.finished(api, SWEEP, run_id)
    cluster.wait_ok()
    tally = sweep_tally(cluster, data)
    if state != "success":
        tally.notes.append(f"sweep run {run_id} ended {state}")
    after = sc.task_instances(api, SWEEP, run_id)[("sweep_node", ti["map_index"])]
    evidence = {
        "state": state,
        "victim": port,
        "replica": replica,
        "victim_task_ended_after_failover": _ts(after["end_date"]) > failed_over_at,
        "victim_result": sc.xcom_mapped(api, SWEEP, run_id, "sweep_node", ti["map_index"]),
    }
    return tally, evidence


# --- bad input through the REST API -------------------------------------------------------------------

BAD_INPUT: dict[str, tuple[dict[str, Any], str]] = {
    # case: (conf overrides, what the error must mention)
    "unknown table": ({"table": "no_such_table"}, "no_such_table"),
    "sql in the table name": ({"table": "events; DROP TABLE events"}, "table"),
    "negative chunk size": ({"rows_per_chunk": -5}, "rows_per_chunk"),
    "unreachable connection": ({"conn_id": "bs_fault_unreachable"}, "cannot reach MySQL"),
}


def source_checksum(db: str = FAULT_DB) -> tuple[Any, ...]:
    cur = mysql(db).cursor()
    cur.execute("CHECKSUM TABLE events")
    checksum = cur.fetchone()[1]
    cur.execute("SELECT COUNT(*) FROM events")
    return checksum, cur.fetchone()[0]


def results_rows(schema: str = BAD_RESULTS) -> int:
    cur = mysql().cursor()
    cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))
    total = 0
    for (table,) in cur.fetchall():
        cur.execute(f"SELECT COUNT(*) FROM `{schema}`.`{table}`")
        total += cur.fetchone()[0]
    return total


def bad_input_via_api(api: AirflowApi, case: str) -> tuple[Tally, str]:
    """Trigger with one bad value. Returns the tally (source changed -> lost, result rows -> doubled)
    and the error the operator sees: the API's 4xx body, or the failed plan task's log."""
    overrides, _ = BAD_INPUT[case]
    ensure_events(FAULT_DB)
    before = source_checksum()
    conf = {**scan_conf("bs_fault_scan", BAD_RESULTS), **overrides}
    tally = Tally(runs=1)
    try:
        run_id = sc.trigger(api, SCAN, conf)
    except ApiError as exc:
        if not 400 <= exc.status < 500:
            raise
        message = f"HTTP {exc.status}: {exc.body}"
    else:
        state = sc.finished(api, SCAN, run_id)
        tis = sc.task_instances(api, SCAN, run_id)
        plan = tis[("plan", -1)]
        message = f"run {state}, plan {plan['state']}: " + sc.task_log(api, SCAN, run_id, "plan", plan["try_number"])
        tally.doubled += sum(1 for (t, _), ti in tis.items() if t == "scan_chunk" and ti["state"] == "success")
    tally.lost += int(source_checksum() != before)
    tally.doubled += results_rows()
    return tally, message


# --- Workers with disks of their own -------------------------------------------------------------------


def _sweep_hosts(api: AirflowApi, run_id: str) -> dict[str, set[str]]:
    tis = sc.task_instances(api, SWEEP, run_id)
    out: dict[str, set[str]] = {}
    for (task, _), t in tis.items():
        out.setdefault(task, set()).add(t["hostname"])
    return out


def sweep_on_own_disks(api: AirflowApi, cluster: Any, keys: int = 60_000) -> tuple[Tally, dict[str, Any]]:
    """The sweep with no shared audit store (each worker falls back to its own AIRFLOW_HOME): a task on
    a worker other than the plan's refuses to run, naming the fix; with the store shared again, clearing
    the whole run makes it exact, and the audit in the shared store lists every applied key once."""
    from bulkscan.core.sweep import APPLIED
    from bulkscan.jobs.redis_sweep.settings import run_token
    from bulkscan.redisnodes.audit import merge_audits
    from tests.redis_sweep.conftest import load

    cluster.wait_ok()
    cluster.flushall()
    data = load(cluster, n=keys)
    # Slow pages (10 keys each) keep the three node tasks running side by side, so with two slots per
    # worker they land on both workers; the plan ran on one of them.
    conf = {"redis_conn_id": "bs_fault_cluster", "pattern": "sweep:*", "scan_count": 10}
    sc.set_audit_store(api, None)
    try:
        run_id = sc.trigger(api, SWEEP, conf)
        first = sc.finished(api, SWEEP, run_id)
        tis = sc.task_instances(api, SWEEP, run_id)
        refused = {k: t for k, t in tis.items() if t["state"] == "failed"}
        messages = [sc.task_log(api, SWEEP, run_id, task, t["try_number"], m) for (task, m), t in refused.items()]
        plan_host = tis[("plan", -1)]["hostname"]
    finally:
        sc.set_audit_store(api, f"file://{sc.SHARED_STORE}")
    api.post(
        f"/dags/{SWEEP}/clearTaskInstances",
        {"dag_run_id": run_id, "only_failed": False, "reset_dag_runs": True, "dry_run": False},
    )
    second = sc.finished(api, SWEEP, run_id)
    cluster.wait_ok()
    tally = sweep_tally(cluster, data)
    totals, rows = merge_audits(sc.SHARED_STORE / "redis-sweep", run_token(SWEEP, run_id))
    evidence = {
        "first": first,
        "second": second,
        "plan_host": plan_host,
        "refused_hosts": {t["hostname"] for t in refused.values()},
        "refused_tasks": sorted(task for task, _ in refused),
        "messages": messages,
        "hosts_after": _sweep_hosts(api, run_id),
        "audit_keys": totals.keys,
        "audit_rows": rows,
        "applied_truth": {k.decode("utf-8", "backslashreplace") for k, (s, _) in data.truth.items() if s == APPLIED},
        "summary": sc.xcom(api, SWEEP, run_id, "finalize") if second == "success" else None,
    }
    return tally, evidence


# --- a worker SIGKILLed mid-chunk ---------------------------------------------------------------------


def worker_killed(api: AirflowApi) -> tuple[Tally, dict[str, Any]]:
    """SIGKILL the worker (its whole process group) whose chunk 5 is stalled mid-scan: the scheduler
    notices the lost heartbeat, the chunk is retried on the other worker, the result is still exact.
    The killed worker is started again (scripts/airflow_stack.sh start starts what is not running)."""
    import os

    ensure_events(FAULT_DB)
    cur = mysql(FAULT_DB).cursor()
    cur.execute("DROP TABLE IF EXISTS attempts")  # the UI test's own has no worker column
    cur.execute("CREATE TABLE attempts (run_key VARCHAR(250), chunk_index INT, try_number INT, worker VARCHAR(64))")
    stall = {"control_db": FAULT_DB, "group": "user_id", "value": "amount", "stall_chunk": 5, "seconds": 600,
             "port": sc.MYSQL_PORT}  # fmt: skip
    conf = scan_conf(
        "bs_fault_scan", FAULT_RESULTS, processor="tests.stack.stall:stalling_aggregate", processor_args=stall
    )
    run_id = sc.trigger(api, SCAN, conf)
    key = f"{SCAN}/{run_id}"

    def stalled_on() -> str | None:
        cur.execute("SELECT worker FROM attempts WHERE run_key = %s AND chunk_index = 5", (key,))
        row = cur.fetchone()
        return row[0] if row else None

    victim = sc.wait(stalled_on, 120, "chunk 5 to start", every=0.5)
    time.sleep(2)
    os.killpg(int((sc.STACK_HOME / "run" / f"worker-{victim}.pid").read_text()), 9)
    try:
        state = sc.finished(api, SCAN, run_id)
    finally:
        restarted = sc.run_script("start", 300)
    tally = scan_tally(FAULT_DB, FAULT_RESULTS, run_id)
    if state != "success":
        tally.notes.append(f"worker-kill run {run_id} ended {state}")
    if restarted.returncode != 0:
        tally.notes.append(f"the killed worker did not come back: {restarted.stderr[-300:]}")
    chunk5 = sc.task_instances(api, SCAN, run_id)[("scan_chunk", 5)]
    return tally, {
        "state": state,
        "victim": victim,
        "chunk5_host": chunk5["hostname"],
        "restarted": restarted.returncode,
    }
