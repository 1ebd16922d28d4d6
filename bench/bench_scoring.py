"""Benchmark of member scoring (issues 5 and 12): the daily incremental DAG against recomputing the window,
and the hourly folds' close against the daily run.

Side by side, in one run, on a dedicated loopback MariaDB (scripts/mysql2.sh, port 3316 by default), on
the seed's own history (1M members, 1M flows a day, 91 days: 90 days of history fill the 90-day window):
  * daily_dag_s    the whole member_scoring DAG (dag.test) for the target day with 90 days of history
  * daily3_s       the same day's DAG with only 3 days of history plus the day leaving the window (so the
                   day does the same work: the cost must not grow with history)
  * hour_fold_s    one member_scoring_hourly run (the median of the 23 hours folded before the close)
  * close_s        the close of the day after those 23 folds (member_scoring: folds the last hour, applies);
                   close_vs_daily = close_s / daily_dag_s, and the ledger must equal the daily apply's
  * recompute_s    recomputing every member's window total and tier from the raw flows (the monthly job,
                   as one set-based GROUP BY: already far kinder than the seed's per-user loop)
  * peruser_s      the seed's actual monthly job: loop over members, one query per member for the window's
                   flows (on a copy of the sampled members' flows clustered by (uid, created_at), the index
                   that query needs), summed and tiered in Python; timed on a sample of members
                   (--peruser-sample, env BULKSCAN_SCORING_PERUSER_SAMPLE) and EXTRAPOLATED to all members;
                   the seed's 10+ round trips of business processing per member are not included (a lower bound)
  * summary_s      the monthly-summary recompute: every window from flow_day_sum (bulkscan's verify,
                   which also checks the incremental state against it: mismatches must be 0)
  * a profile of the last daily run: seconds outside tasks (Airflow, dag.test), in the producers, in apply,
    and apply's statements (its XCom's timings)
Data sets are created once with INSERT ... SELECT from MariaDB's sequence engine and reused (build_s and
disk_gb on the BENCH line); before each timed run the target day is reset, which is not timed.

    python bench/bench_scoring.py [--members 1000000] [--flows-per-day 1000000] [--days 91] [--build-only]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for p in (str(ROOT / "plugins"), str(ROOT)):
    if p not in sys.path:
        sys.path.insert(0, p)

from bulkscan.jobs.member_scoring.config import load_config  # noqa: E402
from bulkscan.jobs.member_scoring.rebuild import rebuild, verify  # noqa: E402
from bulkscan.jobs.member_scoring.sqlparts import SqlParts  # noqa: E402
from bulkscan.jobs.member_scoring.store import ScoringStore  # noqa: E402
from bulkscan.mysqldb.connect import close_quietly, direct  # noqa: E402
from bulkscan.mysqldb.results import ResultStore  # noqa: E402
from tests.airflow_helpers import xcom_of  # noqa: E402

DAY0 = date(2026, 1, 1)
CONFIG = load_config(ROOT / "include" / "scoring.yaml")


def sh(cmd: list[str], env: dict[str, str]) -> None:
    subprocess.run(cmd, check=True, env={**os.environ, **env})


def start_server(port: int) -> None:
    sh(
        [str(ROOT / "scripts" / "mysql2.sh"), "start"],
        {
            "BULKSCAN_MYSQL2_PORT": str(port),
            "BULKSCAN_MYSQL2_DIR": f"/tmp/bulkscan-scoring-bench-{port}",
            "BULKSCAN_MYSQL2_OPTS": "--innodb-buffer-pool-size=6G --innodb-log-file-size=2G "
            "--innodb-flush-log-at-trx-commit=2 --tmp-table-size=256M --max-heap-table-size=256M",
        },
    )


class Dataset:
    """One database: t_flow for `history` days before the target day and the target day itself."""

    def __init__(self, port: int, members: int, flows: int, history: int, target: date):
        self.port, self.members, self.flows, self.history, self.target = (
            port,
            members,
            flows,
            history,
            target,
        )
        self.db = f"bs_scoring_bench_m{members}_f{flows}_h{history}"
        self.server = direct("127.0.0.1", port)
        self.connect = direct("127.0.0.1", port, database=self.db)
        self.store = ScoringStore(self.connect, self.db, CONFIG)
        self.shape = json.dumps(
            {
                "members": members,
                "flows": flows,
                "history": history,
                "target": str(target),
                "config": CONFIG.digest,
                "v": 2,
                **({"leaving_day": True} if self.leaving_day() else {}),
            }
        )

    def leaving_day(self) -> date | None:
        """With less history than the window, the day that leaves the window on the target day is added
        anyway: the target day then does the same work as with the full history (the members whose day
        leaves), so the two histories differ in length only."""
        leaving = self.target - timedelta(days=CONFIG.window_days)
        return leaving if self.history < CONFIG.window_days else None

    def days(self) -> list[date]:
        first = self.target - timedelta(days=self.history)
        contiguous = [first + timedelta(days=i) for i in range(self.history + 1)]
        leaving = self.leaving_day()
        return [leaving, *contiguous] if leaving else contiguous

    def q(self, sql: str, params: tuple[Any, ...] = (), in_db: bool = False) -> list[tuple[Any, ...]]:
        conn = self.connect() if in_db else self.server()
        try:
            cur = conn.cursor()
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []
        finally:
            close_quietly(conn)

    def ready(self) -> bool:
        try:
            rows = self.q(f"SELECT v FROM `{self.db}`.bench_meta WHERE k = 'shape'")
        except Exception:  # noqa: BLE001 - no database or table yet
            return False
        return bool(rows) and rows[0][0] == self.shape

    def create(self) -> None:
        t0 = time.monotonic()
        self.q(f"DROP DATABASE IF EXISTS `{self.db}`")
        self.q(f"CREATE DATABASE `{self.db}`")
        self.store.ensure(with_flow_table=True)
        ResultStore(self.connect, self.db).ensure()
        db = self.db
        for d in self.days():
            # uid and score from CRC32 of (day, seq): about 63% of members active a day, scores -20..100;
            # ids increase with created_at, as an auto-increment key does.
            self.q(
                f"INSERT INTO `{db}`.t_flow (uid, score, created_at) "
                f"SELECT 1 + MOD(CRC32(CONCAT(%s, ':', seq)), %s), "
                "CAST(MOD(CRC32(CONCAT(seq, ':s', %s)), 121) AS SIGNED) - 20, "
                f"%s + INTERVAL ((seq - 1) * 86400 DIV %s) SECOND FROM `{db}`.seq_1_to_{int(self.flows)}",
                (str(d), self.members, str(d), str(d), self.flows),
            )
            if d < self.target:
                self.q(
                    f"INSERT INTO `{db}`.flow_day_sum (day, uid, score_sum, flows) "
                    "SELECT %s, uid, SUM(score), COUNT(*) "
                    f"FROM `{db}`.t_flow WHERE created_at >= %s AND created_at < %s GROUP BY uid",
                    (d, d, d + timedelta(days=1)),
                )
            print(f"  {db}: day {d} loaded ({time.monotonic() - t0:.0f}s)", flush=True)
        rebuild(self.store, self.target - timedelta(days=1), "bench-bootstrap")
        self.q(f"CREATE TABLE `{db}`.member_score_base LIKE `{db}`.member_score")
        self.q(f"INSERT INTO `{db}`.member_score_base SELECT * FROM `{db}`.member_score")
        self.q(f"CREATE TABLE `{db}`.bench_meta (k VARCHAR(32) PRIMARY KEY, v TEXT)")
        built = time.monotonic() - t0
        self.q(f"ANALYZE TABLE `{db}`.t_flow, `{db}`.flow_day_sum, `{db}`.member_score")
        self.q(f"INSERT INTO `{db}`.bench_meta VALUES ('build_s', %s)", (f"{built:.0f}",))
        self.q(f"INSERT INTO `{db}`.bench_meta VALUES ('shape', %s)", (self.shape,))
        print(f"  {db}: created in {built:.0f}s, {self.disk_gb():.2f} GB on disk", flush=True)

    def build_seconds(self) -> float:
        rows = self.q(f"SELECT v FROM `{self.db}`.bench_meta WHERE k = 'build_s'")
        return float(rows[0][0]) if rows else float("nan")

    def disk_gb(self) -> float:
        """Data and indexes of the data set's tables (InnoDB's own figures, after ANALYZE)."""
        rows = self.q(
            "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables "
            "WHERE table_schema = %s",
            (self.db,),
        )
        return int(rows[0][0]) / 1e9

    def reset(self) -> None:
        """Undo a previous daily run or hourly folds of the target day: member_score back to the state
        before it (the members the day touched and the members whose day left the window), the day's rows
        out of every table."""
        db, t = self.db, self.target
        self.q(f"TRUNCATE TABLE `{db}`.member_score")
        self.q(f"INSERT INTO `{db}`.member_score SELECT * FROM `{db}`.member_score_base")
        for table in ("flow_day_sum", "member_action", "scoring_ledger", "flow_hour_sum", "scoring_hour_ledger"):
            self.q(f"DELETE FROM `{db}`.{table} WHERE day = %s", (t,))
        self.q(f"DELETE FROM `{db}`.bulkscan_partial")
        self.q(f"DELETE FROM `{db}`.bulkscan_chunk")

    @property
    def conn_id(self) -> str:
        conn_id = f"bs_scoring_bench_{self.history}"
        os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = f"mysql://root@127.0.0.1:{self.port}/{self.db}"
        return conn_id

    def ledger(self) -> dict[str, int]:
        row = self.q(
            f"SELECT flows, members, changed_members, actions FROM `{self.db}`.scoring_ledger WHERE day = %s",
            (self.target,),
        )[0]
        return dict(zip(("flows", "members", "changed", "actions"), map(int, row), strict=True))

    def hourly_close(
        self, scoring: Any, hourly: Any, rows_per_chunk: int, max_chunks: int
    ) -> tuple[list[float], float]:
        """The target day through the hourly DAG: every hour but the last folded by its own run, then the
        close (member_scoring for the day), which folds the last hour and applies. Returns the folds'
        and the close's whole-DAG seconds."""
        base = {"conn_id": self.conn_id, "rows_per_chunk": rows_per_chunk, "max_chunks": max_chunks}
        folds = []
        hours = CONFIG.calendar.hour_slices(self.target)
        for hour in hours[:-1]:
            t0 = time.monotonic()
            dr = hourly.test(run_conf={**base, "day": str(self.target), "hour": hour.index})
            folds.append(time.monotonic() - t0)
            if str(dr.state) != "success":
                raise SystemExit(f"hourly fold of {hour.label} ended {dr.state}")
        close, _ = self.daily_dag(scoring, rows_per_chunk, max_chunks)
        applied = xcom_of(self.last_run, "apply")
        if applied.get("hours_folded_at_close") != [hours[-1].index]:
            raise SystemExit(f"the close folded {applied.get('hours_folded_at_close')}, not only the last hour")
        return folds, close

    def profile(self, dag_id: str) -> dict[str, float]:
        """Where the last daily run's seconds went: each task's run time (mapped tasks summed, in
        dag.test they run one after another) from Airflow's metadata, and apply's statements."""
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            rows = session.execute(
                select(TaskInstance.task_id, TaskInstance.start_date, TaskInstance.end_date).where(
                    TaskInstance.dag_id == dag_id, TaskInstance.run_id == self.last_run.run_id
                )
            ).all()
        tasks: dict[str, float] = {}
        for task_id, start, end in rows:
            if start and end:
                tasks[task_id] = tasks.get(task_id, 0.0) + (end - start).total_seconds()
        return tasks

    def daily_dag(self, dag: Any, rows_per_chunk: int, max_chunks: int) -> tuple[float, dict[str, Any]]:
        conn_id = self.conn_id
        conf = {
            "conn_id": conn_id,
            "day": str(self.target),
            "rows_per_chunk": rows_per_chunk,
            "max_chunks": max_chunks,
        }
        t0 = time.monotonic()
        dr = dag.test(run_conf=conf)
        seconds = time.monotonic() - t0
        if str(dr.state) != "success":
            raise SystemExit(f"daily DAG run for {self.db} ended {dr.state}")
        self.last_run = dr
        return seconds, self.ledger()

    def recompute(self) -> float:
        """The monthly job, set-based: every member's window total and tier straight from t_flow."""
        lo = self.target - timedelta(days=CONFIG.window_days - 1)
        tier = SqlParts(CONFIG).tier(SqlParts(CONFIG).rank("SUM(score)"))
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute("DROP TEMPORARY TABLE IF EXISTS recompute")
            t0 = time.monotonic()
            cur.execute(
                f"CREATE TEMPORARY TABLE recompute (PRIMARY KEY (uid)) ENGINE=InnoDB "
                f"SELECT uid, SUM(score) AS window_total, {tier} AS tier FROM `{self.db}`.t_flow "
                "WHERE created_at >= %s AND created_at < %s GROUP BY uid",
                (lo, self.target + timedelta(days=1)),
            )
            return time.monotonic() - t0
        finally:
            close_quietly(conn)

    def peruser(self, sample: int) -> tuple[float, int]:
        """The seed's loop, one query per member over a sample; returns (seconds, members timed).

        The copy of t_flow clustered by (uid, created_at) is built once per data set (not timed)."""
        db = self.db
        step = max(1, self.members // max(1, sample))
        uids = range(1, self.members + 1, step)[:sample]
        marker = f"peruser_copy_{step}_{sample}"
        if not self.q(f"SELECT 1 FROM `{db}`.bench_meta WHERE k = %s", (marker,)):
            # Only the sampled members' flows are copied (one pass over t_flow, not a 90M-row re-sort):
            # each member's query then reads exactly the rows it would read in the full copy.
            print(f"  {db}: building t_flow_by_uid for the per-member baseline's sample (once)", flush=True)
            self.q(f"DROP TABLE IF EXISTS `{db}`.t_flow_by_uid")
            self.q(
                f"CREATE TABLE `{db}`.t_flow_by_uid (id BIGINT UNSIGNED NOT NULL, uid BIGINT NOT NULL, "
                "score INT NOT NULL, created_at DATETIME NOT NULL, PRIMARY KEY (uid, created_at, id)) ENGINE=InnoDB"
            )
            self.q(
                f"INSERT INTO `{db}`.t_flow_by_uid SELECT id, uid, score, created_at FROM `{db}`.t_flow "
                "WHERE uid <= %s AND MOD(uid - 1, %s) = 0",
                (uids[-1], step),
            )
            self.q(f"INSERT INTO `{db}`.bench_meta VALUES (%s, '1')", (marker,))
        lo = self.target - timedelta(days=CONFIG.window_days - 1)
        hi = self.target + timedelta(days=1)
        conn = self.connect()
        try:
            cur = conn.cursor()
            sql = f"SELECT score FROM `{db}`.t_flow_by_uid WHERE uid = %s AND created_at >= %s AND created_at < %s"
            t0 = time.monotonic()
            tiers: dict[str, int] = {}
            for uid in uids:  # as the seed: foreach uid { scores = select ...; sum; switch(sum) }
                cur.execute(sql, (uid, lo, hi))
                total = sum(int(r[0]) for r in cur.fetchall())
                tier = CONFIG.tier(total)
                tiers[tier] = tiers.get(tier, 0) + 1
            return time.monotonic() - t0, len(uids)
        finally:
            close_quietly(conn)


def load_dag(dag_id: str = "member_scoring") -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / f"{dag_id}.py"))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    return bag.dags[dag_id]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", type=int, default=1_000_000)
    ap.add_argument("--flows-per-day", type=int, default=1_000_000)
    ap.add_argument(
        "--days",
        type=int,
        default=91,
        help="the target day's number (history = days - 1): 91, so 90 days of history fill the seed's "
        "three-month window and a day really leaves it",
    )
    ap.add_argument("--short-history", type=int, default=3)
    ap.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("BULKSCAN_SCORING_BENCH_PORT", "3316")),
    )
    ap.add_argument("--rows-per-chunk", type=int, default=250_000)
    ap.add_argument("--max-chunks", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved daily runs per history (median)")
    ap.add_argument(
        "--peruser-sample",
        type=int,
        default=int(os.environ.get("BULKSCAN_SCORING_PERUSER_SAMPLE", "2000")),
        help="members timed in the seed's per-member loop (extrapolated to --members)",
    )
    ap.add_argument("--build-only", action="store_true", help="create (or check) the data sets and stop")
    args = ap.parse_args()

    start_server(args.port)
    target = DAY0 + timedelta(days=args.days - 1)
    long = Dataset(args.port, args.members, args.flows_per_day, args.days - 1, target)
    short = Dataset(args.port, args.members, args.flows_per_day, args.short_history, target)
    for ds in (short, long):
        if ds.ready():
            print(f"reusing {ds.db}")
        else:
            print(f"creating {ds.db} (once)", flush=True)
            ds.create()
        print(f"  {ds.db}: built in {ds.build_seconds():.0f} s, {ds.disk_gb():.2f} GB", flush=True)
    if args.build_only:
        return

    os.environ.setdefault("BULKSCAN_RETRY_DELAY_SECONDS", "1")
    dag = load_dag()
    print(
        f"{args.members:,} members, {args.flows_per_day:,} flows a day; day {target} "
        f"(window {CONFIG.window_days} days)",
        flush=True,
    )
    figures: dict[str, float] = {}
    # One untimed run first: Airflow's first dag.test in a process pays for plugin loading and DB set-up.
    short.reset()
    warm, _ = short.daily_dag(dag, args.rows_per_chunk, args.max_chunks)
    print(f"  (warm-up run {warm:.2f} s, not counted)", flush=True)
    runs: dict[str, list[float]] = {"daily3_s": [], "daily_dag_s": []}
    for r in range(args.rounds):  # interleaved, so machine noise hits both histories alike
        for ds, name in ((short, "daily3_s"), (long, "daily_dag_s")):
            ds.reset()
            secs, ledger = ds.daily_dag(dag, args.rows_per_chunk, args.max_chunks)
            runs[name].append(secs)
            print(
                f"  {name:<12} {secs:8.2f} s  whole DAG, {ds.history} days of history (round {r + 1}): {ledger}",
                flush=True,
            )
    for name, values in runs.items():
        figures[name] = statistics.median(values)
    tasks = long.profile(dag.dag_id)
    applied = xcom_of(long.last_run, "apply")
    in_tasks = sum(tasks.values())
    scan = sum(v for k, v in tasks.items() if k.startswith("scan_"))
    figures["daily_airflow_s"] = runs["daily_dag_s"][-1] - in_tasks
    figures["daily_scan_s"], figures["daily_apply_s"] = scan, tasks.get("apply", 0.0)
    print(
        f"  profile of the last daily run ({runs['daily_dag_s'][-1]:.2f} s): outside tasks (Airflow, dag.test) "
        f"{figures['daily_airflow_s']:.2f} s; " + ", ".join(f"{k} {v:.2f} s" for k, v in sorted(tasks.items())),
        flush=True,
    )
    print(
        f"  apply's statements ({applied['seconds']:.2f} s in the store): "
        + ", ".join(f"{k} {v:.2f}" for k, v in list(applied["timings"].items())[:12]),
        flush=True,
    )
    daily_ledger = long.ledger()
    hourly = load_dag("member_scoring_hourly")
    long.reset()
    folds, close = long.hourly_close(dag, hourly, args.rows_per_chunk, args.max_chunks)
    if long.ledger() != daily_ledger:
        raise SystemExit(f"the hourly close left {long.ledger()}, the daily apply {daily_ledger}")
    closed = xcom_of(long.last_run, "apply")
    figures["hour_fold_s"], figures["close_s"] = statistics.median(folds), close
    print(
        f"  {'hour_fold_s':<12} {figures['hour_fold_s']:8.2f} s  median of {len(folds)} hourly fold runs "
        f"(whole DAG; min {min(folds):.2f}, max {max(folds):.2f})",
        flush=True,
    )
    print(
        f"  {'close_s':<12} {close:8.2f} s  the close after {len(folds)} folds (whole DAG), ledger as the "
        f"daily apply's: {daily_ledger}; its statements: "
        + ", ".join(f"{k} {v:.2f}" for k, v in list(closed["timings"].items())[:8]),
        flush=True,
    )
    figures["recompute_s"] = long.recompute()
    print(
        f"  {'recompute_s':<12} {figures['recompute_s']:8.2f} s  window from raw t_flow ({args.days} days of flows)",
        flush=True,
    )
    secs, timed = long.peruser(args.peruser_sample)
    figures["peruser_s"] = secs * args.members / timed
    print(
        f"  {'peruser_s':<12} {figures['peruser_s']:8.2f} s  EXTRAPOLATED: seed's loop, one query per member, "
        f"{timed:,} members timed in {secs:.2f} s x {args.members / timed:,.0f}",
        flush=True,
    )
    t0 = time.monotonic()
    check = verify(long.store)
    figures["summary_s"] = time.monotonic() - t0
    print(
        f"  {'summary_s':<12} {figures['summary_s']:8.2f} s  window from flow_day_sum + compare: {check}",
        flush=True,
    )
    if check["mismatches"]:
        raise SystemExit(f"incremental state differs from the rebuild: {check}")

    d = figures["daily_dag_s"]
    history = f"history{long.history}_vs_history{short.history}"
    print(
        f"BENCH scoring members={args.members} flows_per_day={args.flows_per_day} daily_dag_s={d:.2f} "
        f"daily_vs_recompute={d / figures['recompute_s']:.3f} {history}={d / figures['daily3_s']:.3f} "
        f"close_vs_daily={figures['close_s'] / d:.3f} hour_fold_s={figures['hour_fold_s']:.2f} "
        f"daily_vs_peruser={d / figures['peruser_s']:.5f} "
        f"daily_vs_summary={d / figures['summary_s']:.3f} daily3_s={figures['daily3_s']:.2f} "
        f"recompute_s={figures['recompute_s']:.2f} summary_s={figures['summary_s']:.2f} "
        f"peruser_extrapolated_s={figures['peruser_s']:.0f} close_s={figures['close_s']:.2f} "
        f"daily_airflow_s={figures['daily_airflow_s']:.2f} daily_scan_s={figures['daily_scan_s']:.2f} "
        f"daily_apply_s={figures['daily_apply_s']:.2f} build_s={long.build_seconds():.0f} "
        f"disk_gb={long.disk_gb() + short.disk_gb():.1f}"
    )


if __name__ == "__main__":
    main()
