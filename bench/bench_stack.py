"""make bench-stack: the DAGs through the real scheduler on the loopback CeleryExecutor stack (two
workers of two slots, PostgreSQL metadata, Redis broker), each against its peer in the same run.

* `bulkscan_table_scan` on bench-scan's 10M-row table (its defaults but the table's names), from the
  trigger to success (the run's queued_at -> end_date, server side), against bulkscan's library path
  with 2 worker processes (no Airflow) on the same warm table;
* the scheduling overhead per mapped task instance: the smoke DAG with 8 and with 64 no-op chunks,
  (t64 - t8) / 56 seconds per extra task instance at this stack's 4 slots;
* `bulkscan_shard_query` over bench-shards' 128 tables on two servers with the DAG's default settings,
  against the asyncio + aiomysql batches (seed 001, fixed);
* `bulkscan_redis_sweep` over bench-redis' 1M hashes on 3 primaries (one node task each, spread over
  the two workers), against the seed's threads (one per primary).

Every DAG result is checked against its peer's (totals per group; for the sweep, a sample of keys
moved by exactly field_1). Each DAG runs once unmeasured first (a fresh stack's first run also creates
bulkscan's schema). Rounds (3) are interleaved and the median round's ratio is reported (the
machine drifts). The stack is started here and stopped at the end; bench data is reused (make
bench-down stops the bench servers). Last line:
BENCH stack rows=<n> stack_vs_library=<r> shards_stack_vs_asyncio=<r> redis_stack_vs_seed=<r> overhead_per_ti_s=<s>
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(Path(__file__).resolve().parent), str(ROOT / "plugins"), str(ROOT)]

import bench_redis  # noqa: E402
import bench_scan  # noqa: E402
import bench_shards  # noqa: E402  (sets AIRFLOW_CONN_BS_SHARD_BENCH_A/B)
from common import bench_line, ensure_buffer_pool, table, timed  # noqa: E402

from bulkscan.mysqldb.connect import direct  # noqa: E402
from bulkscan.redisnodes.connect import discover  # noqa: E402
from devtools.demo.data import create_events  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_STACK_ROUNDS", "3"))
SCAN_RESULTS = "bs_bench_stack_results"
os.environ["AIRFLOW_CONN_BS_BENCH"] = f"mysql://root@{bench_scan.HOST}:{bench_scan.PORT}/{bench_scan.DB}"
os.environ["AIRFLOW_CONN_BS_REDIS_BENCH"] = json.dumps(
    {"conn_type": "redis", "host": "127.0.0.1", "port": bench_redis.BASE_PORT, "extra": {"cluster": True}}
)
from tests.stack import stackctl as sc  # noqa: E402


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def dag_seconds(api: Any, dag_id: str, conf: dict[str, Any], timeout: float = 1800) -> tuple[float, str]:
    """Trigger, wait, and the run's own queued_at -> end_date (what a user waits, scheduler included)."""
    run_id = sc.trigger(api, dag_id, conf)
    state = sc.finished(api, dag_id, run_id, timeout=timeout)
    if state != "success":
        raise SystemExit(f"{dag_id} run {run_id} ended {state}")
    info = sc.run_info(api, dag_id, run_id)
    return (_ts(info["end_date"]) - _ts(info["queued_at"])).total_seconds(), run_id


def stored_totals(schema: str, run_key: str) -> tuple[int, int, int]:
    cur = direct(bench_scan.HOST, bench_scan.PORT)().cursor()
    cur.execute(
        f"SELECT COUNT(*), SUM(value_sum), SUM(row_count) FROM `{schema}`.bulkscan_result WHERE run_key = %s",
        (run_key,),
    )
    groups, total, rows = cur.fetchone()
    return int(groups), int(Decimal(total)), int(rows)


def scan_stack(api: Any) -> tuple[float, tuple[int, int, int]]:
    conf = {"conn_id": "bs_bench", "table": bench_scan.TABLE, "key_column": "id", "group_column": "user_id",
            "value_column": "amount", "results_schema": SCAN_RESULTS, "processor": "aggregate"}  # fmt: skip
    seconds, run_id = dag_seconds(api, "bulkscan_table_scan", conf)
    return seconds, stored_totals(SCAN_RESULTS, f"bulkscan_table_scan/{run_id}")


def scan_library() -> tuple[float, tuple[int, int, int]]:
    seconds, (answer, _rss) = timed(lambda: bench_scan.library_path(2))
    return seconds, answer


def overhead(api: Any) -> float:
    few, _ = dag_seconds(api, "bulkscan_stack_smoke", {"n": 8, "hold_seconds": 0})
    many, _ = dag_seconds(api, "bulkscan_stack_smoke", {"n": 64, "hold_seconds": 0})
    return (many - few) / 56


def shards_stack(api: Any) -> tuple[float, dict[Any, list[int]]]:
    conf = {
        "topology": {"database": bench_shards.DB, "hosts": bench_shards.SHARDS},
        "group_column": "grp",
        "value_column": "amount",
        "results_conn_id": "bs_shard_bench_a",
        "results_schema": bench_shards.RESULTS,
    }  # fmt: skip  (everything else: the DAG's defaults)
    seconds, run_id = dag_seconds(api, "bulkscan_shard_query", conf)
    return seconds, bench_shards.stored_groups(bench_shards.store(), f"bulkscan_shard_query/{run_id}")


def shards_asyncio() -> tuple[float, dict[Any, list[int]]]:
    return timed(bench_shards.asyncio_batches)


def redis_probe(n: int) -> list[str]:
    return [f"bench:{i}" for i in random.Random(time.time_ns()).sample(range(n), 2000)]


def redis_stack(api: Any, keys: int) -> float:
    probe = redis_probe(keys)
    before = bench_redis.sample_state(probe)
    seconds, _ = dag_seconds(api, "bulkscan_redis_sweep", {"redis_conn_id": "bs_redis_bench", "pattern": "bench:*"})
    after = bench_redis.sample_state(probe)
    if not all(after[k][1] - before[k][1] == before[k][0] for k in probe):
        raise SystemExit("the stack's Redis sweep did not move each sampled key by exactly field_1")
    return seconds


def redis_seed(work: Path) -> float:
    return bench_redis.run_threads(bench_redis.seed_node, discover(bench_redis.SETTINGS).primaries(), work)


def prepare(keys: int) -> int:
    made = create_events(direct(bench_scan.HOST, bench_scan.PORT), bench_scan.DB, bench_scan.TABLE,
                         bench_scan.ROWS, users=10_000, huge_gap=False)  # fmt: skip
    print(f"table {bench_scan.DB}.{bench_scan.TABLE}: {made:,} rows; {bench_scan.warm_server()}", flush=True)
    subprocess.run([str(ROOT / "scripts" / "mysql2.sh"), "start"], check=True)
    for port in (bench_shards.PORT_A, bench_shards.PORT_B):
        conn = bench_shards.connect(port, None)
        ensure_buffer_pool(conn, int(os.environ.get("BENCH_BUFFER_POOL_SHARDS", str(1 << 30))))
        conn.close()
    print(f"{bench_shards.TABLES} shard tables, {bench_shards.ensure_data():,} rows on 2 servers", flush=True)
    bench_redis.ensure_data(keys)
    return made


def main() -> None:
    keys = int(os.environ.get("BENCH_STACK_REDIS_KEYS", "1000000"))
    rows = prepare(keys)
    work = Path(tempfile.mkdtemp(prefix="bulkscan-bench-stack-"))
    print("starting the loopback CeleryExecutor stack (2 workers x 2 slots) ...", flush=True)
    api = sc.start()
    seconds: dict[str, list[float]] = {}
    try:
        sc.dag_known(api, "bulkscan_shard_query")
        dag_seconds(api, "bulkscan_stack_smoke", {"n": 2, "hold_seconds": 0})  # warm-up: workers' first fork
        bench_shards.sequential()  # both servers' buffer pools hold the shards
        # One unmeasured run of each DAG: the first run on a fresh stack also creates bulkscan's result
        # schema (Alembic) and is the first parse of its DAG file in each worker: 30 s against 13 s after.
        scan_stack(api)
        shards_stack(api)
        redis_stack(api, keys)
        for r in range(ROUNDS):
            steps = [
                ("scan stack", lambda: scan_stack(api)),
                ("scan library", scan_library),
                ("shards stack", lambda: shards_stack(api)),
                ("shards asyncio", shards_asyncio),
                ("redis stack", lambda: (redis_stack(api, keys), None)),
                ("redis seed", lambda: (redis_seed(work), None)),
            ]
            answers: dict[str, Any] = {}
            # odd rounds run each pair the other way round (peer first)
            order = steps if r % 2 == 0 else [s for pair in zip(steps[1::2], steps[::2], strict=True) for s in pair]
            for name, fn in order:
                t, answer = fn()
                seconds.setdefault(name, []).append(t)
                answers[name] = answer
                print(f"round {r + 1}: {name:<16} {t:8.2f} s", flush=True)
            if answers["scan stack"] != answers["scan library"]:
                raise SystemExit(f"RESULT MISMATCH table scan: {answers['scan stack']} vs {answers['scan library']}")
            if answers["shards stack"] != answers["shards asyncio"]:
                raise SystemExit("RESULT MISMATCH shard query: the DAG's groups differ from the asyncio batches'")
            seconds.setdefault("overhead", []).append(overhead(api))
    finally:
        sc.stop()
    med = {k: statistics.median(v) for k, v in seconds.items()}

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(seconds[a], seconds[b], strict=True))

    table(
        [
            ("bulkscan_table_scan on the stack (trigger -> success)", med["scan stack"], "DAG defaults"),
            ("bulkscan library path, 2 worker processes", med["scan library"], "no Airflow"),
        ],
        rows,
    )
    table(
        [
            ("bulkscan_shard_query on the stack, 128 tables", med["shards stack"], "DAG defaults"),
            ("asyncio + aiomysql batches (seed 001, fixed)", med["shards asyncio"], "batches of 10"),
            ("bulkscan_redis_sweep on the stack, 3 primaries", med["redis stack"], f"{keys:,} hashes"),
            ("seed threads, one per primary", med["redis seed"], "pipelined HGET/HINCRBY"),
        ]
    )
    print(f"scheduling overhead per extra mapped task instance: {med['overhead']:.3f} s (4 worker slots)")
    print(
        bench_line(
            "stack",
            rows=rows,
            stack_vs_library=ratio("scan stack", "scan library"),
            shards_stack_vs_asyncio=ratio("shards stack", "shards asyncio"),
            redis_stack_vs_seed=ratio("redis stack", "redis seed"),
            overhead_per_ti_s=med["overhead"],
        )
    )


if __name__ == "__main__":
    main()
