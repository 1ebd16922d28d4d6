"""make bench-shards: 128 shard tables over two MariaDB servers, every approach side by side.

Approaches, all computing SUM(amount) and COUNT(*) per grp over every shard (results cross-checked):
  1. sequential: one table after another on one connection per host;
  2. asyncio + aiomysql in fixed batches, as users run it today (seed 001) but correct: the missing
     `re` import and event loop fixed, exceptions raised instead of printed, results kept;
  3. bulkscan's library path: plan_units + run_units with the per-host cap (slots on each server);
  4. the whole DAG bulkscan_shard_query through dag.test() (tasks run one after another in-process).
While 2-4 run, information_schema.PROCESSLIST of each server is sampled to report the most queries
running at once per host. Data is created once (server-side, from the SEQUENCE engine) and reused.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, Self

import MySQLdb

from bulkscan.jobs.shard_query.hostplan import plan_units
from bulkscan.jobs.shard_query.packing import reconcile
from bulkscan.jobs.shard_query.runner import check_store, merge, run_units
from bulkscan.jobs.shard_query.settings import ShardSettings
from bulkscan.jobs.shard_query.topology import parse_topology
from bulkscan.mysqldb.connect import direct
from bulkscan.mysqldb.results import ResultStore

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_line, ensure_buffer_pool, table, timed  # noqa: E402

HOST = "127.0.0.1"
PORT_A = int(os.environ.get("BULKSCAN_MYSQL_PORT", "3306"))
PORT_B = int(os.environ.get("BULKSCAN_MYSQL2_PORT", "3307"))
DB = "bs_shard_bench"
RESULTS = "bs_shard_bench_results"
TABLES = 128
SCALE = float(os.environ.get("BENCH_SHARD_SCALE", "4"))  # rows multiplier (4 = about 35M rows, 1 = 8.9M)
CAP = int(os.environ.get("BENCH_SHARD_CAP", "2"))  # bulkscan's per-host cap: the DAG's default
ROUNDS = int(os.environ.get("BENCH_SHARD_ROUNDS", "5"))
CONN = {"bs_shard_bench_a": PORT_A, "bs_shard_bench_b": PORT_B}
for _cid, _port in CONN.items():
    os.environ[f"AIRFLOW_CONN_{_cid.upper()}"] = f"mysql://root@{HOST}:{_port}/{DB}"
# The topology in the compact form users write (64 tables per host).
SHARDS = {"bs_shard_bench_a": "table_000-063", "bs_shard_bench_b": "table_064-127"}
TABLES_PER_TASK = 128  # dag.test() runs mapped tasks one after another: one wide task per host
QUERY = "SELECT grp, SUM(amount), COUNT(*) FROM {} GROUP BY grp"


# The wide case: 1,024 small shard tables over the same two servers, declared as 8 connection ids (four
# per server, 128 tables each), planned with the DAG's defaults (automatic packing) into mapped tasks.
WIDE_DB = "bs_shard_wide"
WIDE_TABLES = 1024
WIDE_CONNS = {f"bs_wide_{k}": PORT_A if k < 4 else PORT_B for k in range(8)}
for _cid, _port in WIDE_CONNS.items():
    os.environ[f"AIRFLOW_CONN_{_cid.upper()}"] = f"mysql://root@{HOST}:{_port}/{WIDE_DB}"
WIDE_HOSTS = {cid: f"t_{k * 128:04d}-{k * 128 + 127:04d}" for k, cid in enumerate(WIDE_CONNS)}


def sizes() -> list[int]:
    rng = random.Random(128)
    base = [rng.choice((2_000, 10_000, 25_000, 50_000, 50_000, 80_000)) for _ in range(TABLES)]
    big = rng.sample(range(TABLES), 6)
    for i in big:  # a few big shards: each one query, started first
        base[i] = 400_000
    base[big[0]] = 2_500_000  # one hot shard: chunked inside the same fan-out (default 5M rows a chunk)
    return [max(1, int(n * SCALE)) for n in base]


def port_of(table_no: int) -> int:
    return PORT_A if table_no < 64 else PORT_B


def connect(port: int, db: str | None = DB) -> Any:
    return direct(HOST, port, database=db)()


def ensure_data() -> int:
    """Create the 128 shard tables once (id gaps, uneven sizes); reuse when the manifest matches."""
    want = sizes()
    manifest = ",".join(map(str, want))
    total = sum(want)
    ok = True
    for port in (PORT_A, PORT_B):
        try:
            cur = connect(port).cursor()
            cur.execute("SELECT manifest FROM bench_meta")
            ok = ok and cur.fetchone()[0] == manifest
        except MySQLdb.Error:
            ok = False
    if ok:
        return total
    print(
        f"creating {TABLES} shard tables, {total:,} rows over two servers (once) ...",
        flush=True,
    )

    def build(port: int, numbers: list[int]) -> None:
        conn = connect(port, None)
        cur = conn.cursor()
        cur.execute(f"DROP DATABASE IF EXISTS {DB}")
        cur.execute(f"CREATE DATABASE {DB}")
        cur.execute(f"USE {DB}")
        for i in numbers:
            t = f"table_{i:03d}"
            cur.execute(f"CREATE TABLE {t} (id BIGINT PRIMARY KEY, grp VARCHAR(8) NOT NULL, amount INT NOT NULL)")
            # ids with gaps (every 1000th row jumps by 50,000), 97 groups, deterministic amounts
            cur.execute(
                f"INSERT INTO {t} SELECT seq * 3 + (seq DIV 1000) * 50000 + {i}, "
                f"CONCAT('g', (seq * 31 + {i}) % 97), (seq * 7919 + {i}) % 1000 FROM seq_1_to_{want[i]}"
            )
            cur.execute(f"ANALYZE TABLE {t}")
            cur.fetchall()
        cur.execute("CREATE TABLE bench_meta (manifest TEXT)")
        cur.execute("INSERT INTO bench_meta VALUES (%s)", (manifest,))

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(build, p, [i for i in range(TABLES) if port_of(i) == p]) for p in (PORT_A, PORT_B)]
    for f in futures:
        f.result()  # a failed build raises here
    return total


Groups = dict[str, list[int]]


def wide_sizes() -> list[int]:
    rng = random.Random(1024)
    return [rng.choice((1_000, 2_000, 4_000, 8_000, 12_000)) for _ in range(WIDE_TABLES)]


def wide_port(table_no: int) -> int:
    return PORT_A if table_no < WIDE_TABLES // 2 else PORT_B


def ensure_wide() -> int:
    """The 1,024 wide-case tables, created once (the bench-shards schema, small and uneven); reused."""
    want = wide_sizes()
    manifest = ",".join(map(str, want))
    try:
        ok = True
        for port in (PORT_A, PORT_B):
            cur = connect(port, WIDE_DB).cursor()
            cur.execute("SELECT manifest FROM bench_meta")
            ok = ok and cur.fetchone()[0] == manifest
    except MySQLdb.Error:
        ok = False
    if ok:
        return sum(want)
    print(f"creating the wide case: {WIDE_TABLES} shard tables, {sum(want):,} rows (once) ...", flush=True)

    def build(port: int, numbers: list[int]) -> None:
        conn = connect(port, None)
        cur = conn.cursor()
        cur.execute(f"DROP DATABASE IF EXISTS {WIDE_DB}")
        cur.execute(f"CREATE DATABASE {WIDE_DB}")
        cur.execute(f"USE {WIDE_DB}")
        for i in numbers:
            t = f"t_{i:04d}"
            cur.execute(f"CREATE TABLE {t} (id BIGINT PRIMARY KEY, grp VARCHAR(8) NOT NULL, amount INT NOT NULL)")
            cur.execute(
                f"INSERT INTO {t} SELECT seq * 3 + {i}, CONCAT('g', (seq * 31 + {i}) % 97), (seq * 7919 + {i}) % 1000"
                f" FROM seq_1_to_{want[i]}"
            )
            cur.execute(f"ANALYZE TABLE {t}")
            cur.fetchall()
        cur.execute("CREATE TABLE bench_meta (manifest TEXT)")
        cur.execute("INSERT INTO bench_meta VALUES (%s)", (manifest,))

    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(build, p, [i for i in range(WIDE_TABLES) if wide_port(i) == p]) for p in (PORT_A, PORT_B)
        ]
    for f in futures:
        f.result()
    return sum(want)


def wide_truth() -> Groups:
    """SUM/COUNT per grp over the 1,024 tables, one query per table on one connection per server."""
    out: Groups = {}
    for port in (PORT_A, PORT_B):
        cur = connect(port, WIDE_DB).cursor()
        for i in range(WIDE_TABLES):
            if wide_port(i) == port:
                cur.execute(QUERY.format(f"t_{i:04d}"))
                add(out, cur.fetchall())
    return out


def wide_case(dag: Any) -> tuple[float, float, int]:
    """The wide topology through dag.test() with the DAG's defaults (automatic packing), checked
    against SQL. Returns (plan task seconds, whole run seconds, mapped tasks)."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    conf = {
        "topology": {"database": WIDE_DB, "hosts": WIDE_HOSTS},
        "group_column": "grp",
        "value_column": "amount",
        "tables_per_task": None,  # the DAG's default (automatic packing), said: dag.test() keeps an earlier conf's
        "max_queries_per_host": CAP,
        "results_conn_id": "bs_shard_bench_a",
        "results_schema": RESULTS,
    }
    t0 = time.perf_counter()
    dr = dag.test(run_conf=conf)
    whole = time.perf_counter() - t0
    if str(dr.state) != "success":
        raise SystemExit(f"wide DAG run {dr.run_id} ended {dr.state}")
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=dr.run_id).all()
        plan_ti = next(ti for ti in tis if ti.task_id == "plan")
        plan_s = (plan_ti.end_date - plan_ti.start_date).total_seconds()
        mapped = sum(1 for ti in tis if ti.task_id == "scan_shard")
    got = stored_groups(store(), f"{dag.dag_id}/{dr.run_id}")
    if got != wide_truth():
        raise SystemExit("RESULT MISMATCH: the wide DAG run differs from SQL")
    return plan_s, whole, mapped


def add(groups: Groups, rows: Any) -> None:
    for g, s, n in rows:
        acc = groups.setdefault(str(g), [0, 0])
        acc[0] += int(s)
        acc[1] += int(n)


def sequential() -> Groups:
    groups: Groups = {}
    conns = {p: connect(p) for p in (PORT_A, PORT_B)}
    for i in range(TABLES):
        cur = conns[port_of(i)].cursor()
        cur.execute(QUERY.format(f"table_{i:03d}"))
        add(groups, cur.fetchall())
    for c in conns.values():
        c.close()
    return groups


def asyncio_batches() -> Groups:
    """Seed 001's approach (a pool per table, shuffled tasks, fixed batches of hosts * 5), made correct."""
    import aiomysql

    groups: Groups = {}
    tbles = {f"{HOST}:{PORT_A}": "table_000-063", f"{HOST}:{PORT_B}": "table_064-127"}

    async def query(ip: str, db: str, tbl: str) -> list[Any]:
        host, port = ip.split(":")
        async with (
            aiomysql.create_pool(host=host, port=int(port), db=db, user="root", password="") as pool,
            pool.acquire() as conn,
            conn.cursor() as cur,
        ):
            await cur.execute(QUERY.format(tbl))
            return list(await cur.fetchall())

    def gen_tasks() -> list[tuple[str, str, str]]:
        tasks = []
        for ip, tbls in tbles.items():
            cols = re.split("_|-", tbls)
            pre, lo, hi = "_".join(cols[:-2]), int(cols[-2]), int(cols[-1])
            tasks.extend((ip, DB, f"{pre}_{n:03d}") for n in range(lo, hi + 1))
        random.Random(1).shuffle(tasks)
        return tasks

    async def run(tasks: list[tuple[str, str, str]], batch_len: int) -> None:
        for idx in range(0, len(tasks), batch_len):
            for rows in await asyncio.gather(*(query(*t) for t in tasks[idx : idx + batch_len])):
                add(groups, rows)

    asyncio.run(run(gen_tasks(), len(tbles) * 5))
    return groups


def settings() -> ShardSettings:
    return ShardSettings(
        processor="aggregate",
        processor_kwargs={"group": "grp", "value": "amount"},
        max_queries_per_host=CAP,
    )  # everything else: bulkscan's defaults (a shard of more than 7.5M rows is chunked, 5M rows a chunk)


def store() -> ResultStore:
    s = ResultStore(direct(HOST, PORT_A), schema=RESULTS)
    s.ensure()
    return s


def stored_groups(s: ResultStore, key: str) -> Groups:
    return {g: [int(Decimal(v)), int(n)] for g, (v, n) in s.result(key).items()}


def library_path() -> Groups:
    topo = parse_topology({"database": DB, "hosts": SHARDS})
    results = store()
    key = f"bench/lib/{time.time_ns()}"

    def connect_for(conn_id: str, database: str) -> Any:
        return direct(HOST, CONN[conn_id], database=database)

    s = settings()
    units = plan_units(topo, connect_for, s)
    out = run_units(units, connect_for, s, results, key)
    if out.failures:
        raise RuntimeError(f"library path failures: {out.failures}")
    reconcile(topo, units, out.answers)
    check_store(results, key, out.answers)
    merge(results, key, "bench", out.answers)
    return stored_groups(results, key)


def load_dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "bulkscan_shard_query.py"))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.dags["bulkscan_shard_query"]


def dag_run(dag: Any, hosts: dict[str, Any], tables_per_task: int) -> Groups:
    conf = {
        "topology": {"database": DB, "hosts": hosts},
        "group_column": "grp",
        "value_column": "amount",
        "tables_per_task": tables_per_task,
        "max_queries_per_host": CAP,
        "results_conn_id": "bs_shard_bench_a",
        "results_schema": RESULTS,
    }
    dr = dag.test(run_conf=conf)
    if str(dr.state) != "success":
        raise RuntimeError(f"DAG run {dr.run_id} ended {dr.state}")
    return stored_groups(store(), f"{dag.dag_id}/{dr.run_id}")


def dag_warmup(dag: Any) -> float:
    """dag.test() builds its in-process execution API on first use (seconds, once per process):
    a one-table run first, so the timed run measures the DAG, not the harness start-up."""
    seconds, _ = timed(lambda: dag_run(dag, {"bs_shard_bench_a": "table_000"}, 1))
    return seconds


class Watch:
    """Most shard queries running at once per server (information_schema.PROCESSLIST samples).

    Counted: SELECTs on the shard tables, not bulkscan's own catalog/lock/result statements.
    """

    def __init__(self) -> None:
        self.peak = {p: 0 for p in (PORT_A, PORT_B)}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        conns = {p: connect(p, None) for p in self.peak}
        sql = (
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query' "
            f"AND DB = '{DB}' AND INFO LIKE 'SELECT%%table\\_%%' AND INFO NOT LIKE '%%information_schema%%' "
            "AND INFO NOT LIKE '%%bulkscan\\_%%' AND INFO NOT LIKE '%%GET_LOCK%%' "
            # A finished query's last packet: the client already read the whole result, closed and
            # released its slot, the server thread has not yet gone back to Sleep (a few ms, under load).
            "AND STATE <> 'Writing to net'"
        )
        while not self._stop.is_set():
            for p, c in conns.items():
                cur = c.cursor()
                cur.execute(sql)
                self.peak[p] = max(self.peak[p], int(cur.fetchone()[0]))
            time.sleep(0.005)

    def __enter__(self) -> Self:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def main() -> None:
    subprocess.run([str(ROOT / "scripts" / "mysql2.sh"), "start"], check=True)
    pools = []
    for port in (PORT_A, PORT_B):  # both servers hold their shards in memory, as servers sized for them do
        conn = connect(port, None)
        before, after = ensure_buffer_pool(conn, int(os.environ.get("BENCH_BUFFER_POOL", str(1 << 30))))
        conn.close()
        pools.append(f"{port}: {before >> 20}->{after >> 20} MB")
    print("innodb_buffer_pool_size " + ", ".join(pools))
    total = ensure_data()
    print(f"{TABLES} shard tables, {total:,} rows, 2 servers; bulkscan cap {CAP} queries per host")
    dag = load_dag()
    warm = dag_warmup(dag)
    warm_cache, _ = timed(sequential)  # every approach then reads from the same warm buffer pools
    print(f"warm-ups (untimed): buffer pools {warm_cache:.2f}s, dag.test() in-process API {warm:.1f}s")
    approaches: list[tuple[str, Any, str]] = [
        ("sequential (one table after another)", sequential, "1 connection per host"),
        ("asyncio + aiomysql batches (seed 001, fixed)", asyncio_batches, "batches of 10"),
        (f"bulkscan library path (cap {CAP}/host)", library_path, "slots on each server"),
        (
            "whole DAG via dag.test()",
            lambda: dag_run(dag, SHARDS, TABLES_PER_TASK),
            f"{TABLES_PER_TASK} tables/task, tasks run serially",
        ),
    ]
    seconds: dict[str, list[float]] = {name: [] for name, _, _ in approaches}
    peaks: dict[str, int] = dict.fromkeys(seconds, 0)
    truth: Groups | None = None
    # Interleaved rounds, each in a rotated order: the machine is shared and its speed drifts by tens
    # of percent within minutes, so ratios are taken inside each round and the median round is reported.
    for r in range(ROUNDS):
        for name, fn, _note in approaches[r % len(approaches) :] + approaches[: r % len(approaches)]:
            with Watch() as w:
                t, groups = timed(fn)
            seconds[name].append(t)
            peaks[name] = max(peaks[name], *w.peak.values())
            truth = truth if truth is not None else groups
            if groups != truth:
                raise SystemExit(f"RESULT MISMATCH: {name} differs from {approaches[0][0]}")
    assert truth is not None
    med = {name: statistics.median(ts) for name, ts in seconds.items()}
    table(
        [
            (
                name,
                med[name],
                f"{note}; max queries/host {peaks[name]}; runs {', '.join(f'{t:.2f}' for t in seconds[name])}",
            )
            for name, _, note in approaches
        ],
        total,
    )
    print(
        f"all four results agree: {len(truth)} groups, {sum(n for _, n in truth.values()):,} rows; median of {ROUNDS}"
    )
    names = [name for name, _, _ in approaches]
    max_conns = max(peaks[names[2]], peaks[names[3]])
    if max_conns > CAP:
        raise SystemExit(f"per-host cap {CAP} exceeded: observed {max_conns}")
    lib_vs_asyncio = [a / b for a, b in zip(seconds[names[2]], seconds[names[1]], strict=True)]
    dag_vs_sequential = [a / b for a, b in zip(seconds[names[3]], seconds[names[0]], strict=True)]
    print("per-round ratios (same round, side by side):")
    print("  library / asyncio:   " + ", ".join(f"{x:.3f}" for x in lib_vs_asyncio))
    print("  DAG / sequential:    " + ", ".join(f"{x:.3f}" for x in dag_vs_sequential))
    wide_rows = ensure_wide()
    wide_plan, wide_dag, wide_tasks = wide_case(dag)
    print(
        f"wide case: {WIDE_TABLES} tables ({wide_rows:,} rows) as {len(WIDE_CONNS)} connection ids over 2 servers,"
        f" DAG defaults: {wide_tasks} mapped tasks; plan task {wide_plan:.2f}s of a {wide_dag:.1f}s run"
        f" ({wide_plan / wide_dag:.3f}); result equal to SQL"
    )
    print(
        bench_line(
            "shards",
            tables=TABLES,
            lib_vs_asyncio=statistics.median(lib_vs_asyncio),
            dag_vs_sequential=statistics.median(dag_vs_sequential),
            max_conns_per_host=max_conns,
            wide_tables=WIDE_TABLES,
            wide_tasks=wide_tasks,
            wide_plan_s=wide_plan,
            wide_dag_s=wide_dag,
            wide_plan_share=wide_plan / wide_dag,
        )
    )


if __name__ == "__main__":
    main()
