"""Benchmark the Redis Cluster sweep: the seed's approach vs per-key round trips vs bulkscan (library, DAG).

One million hashes over the three primaries of a local 6-node cluster on ports 7201-7206 (started once
and reused while it holds the data set; `--stop` shuts it down). Side by side in one run:

* seed: one thread per primary, SCAN COUNT 1000, pipelined HGET field_1 then pipelined HINCRBY field_2
  per 1,000 keys, audit CSV per thread (seed 003, ported to Python 3, bugs kept out of the timing path);
* per-key: HGET + HINCRBY round trips per key on a 100k sample (keys/s, extrapolated to the data set);
* lib: bulkscan's library path, each primary's sweep_node in its own process (as mapped tasks run),
  then the mop-up and the audit merge that proves exactly once;
* dag: the whole DAG through dag.test() (which runs its tasks one after another in one process).

The seed and the library path run in BENCH_ROUNDS (default 3, `--rounds`) paired rounds, the order
reversed every round; lib_vs_seed is the median of the rounds' ratios, so a noisy minute moves both
sides of a ratio (the seed is bound by its Python client, the sweep by the servers' CPU, and the two
do not slow down alike).

Last line: BENCH redis keys=<n> lib_vs_seed=<ratio> dag_vs_seed=<ratio> rounds=<n> (bulkscan time / seed
time).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from statistics import median

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from bulkscan.core.sweep import SweepSpec  # noqa: E402
from bulkscan.redisnodes.audit import merge_audits  # noqa: E402
from bulkscan.redisnodes.connect import RedisSettings, discover  # noqa: E402
from bulkscan.redisnodes.mopup import mop_up  # noqa: E402
from bulkscan.redisnodes.sweeper import sweep_node  # noqa: E402
from devtools.localcluster import LocalCluster  # noqa: E402

BASE_PORT = 7201
PATTERN = "bench:*"
SETTINGS = RedisSettings(port=BASE_PORT, cluster=True)


def cluster_up() -> bool:
    try:
        info = redis.Redis(port=BASE_PORT, socket_timeout=2).execute_command("CLUSTER", "INFO").decode()
        return "cluster_state:ok" in info
    except redis.RedisError:
        return False


def ensure_data(n: int) -> None:
    """Start the bench cluster and load n hashes unless it already holds them."""
    if not cluster_up():
        print(f"starting a 6-node cluster on {BASE_PORT}-{BASE_PORT + 5} ...", flush=True)
        LocalCluster(base_port=BASE_PORT).start()
    prims = [p for p in discover(SETTINGS).primaries()]
    have = sum(redis.Redis(host=p.host, port=p.port).dbsize() for p in prims)
    if have == n:
        print(f"reusing {have} keys", flush=True)
        return
    print(f"loading {n} hashes (found {have}) ...", flush=True)
    for p in prims:
        redis.Redis(host=p.host, port=p.port).flushall()
    rc = redis.RedisCluster(host="127.0.0.1", port=BASE_PORT)
    rnd = random.Random(3)
    for start in range(0, n, 20_000):
        pipe = rc.pipeline()
        for i in range(start, min(n, start + 20_000)):
            pipe.hset(f"bench:{i}", mapping={"field_1": rnd.randint(1, 100), "field_2": 0})
        pipe.execute()
    rc.close()


def seed_node(host: str, port: int, log_dir: Path) -> None:
    """The seed's thread body: SCAN, pipelined HGET per 1,000 keys, then pipelined HINCRBY, CSV log."""
    cli = redis.Redis(host=host, port=port)
    if cli.info()["role"] == "slave":
        return
    pipe = cli.pipeline(transaction=False)
    with open(log_dir / f"seed_{port}.csv", "a") as log:

        def flush(keys: list[bytes]) -> None:
            for k in keys:
                pipe.hget(k, "field_1")
            vals = pipe.execute()
            todo = []
            for k, v in zip(keys, vals, strict=False):
                if v and int(v) > 0:
                    pipe.hincrby(k, "field_2", int(v))
                    todo.append((k, int(v)))
            for (k, v), new in zip(todo, pipe.execute(), strict=False):
                log.write(f"{k.decode()},{v},{new}\n")

        keys: list[bytes] = []
        for key in cli.scan_iter(match=PATTERN, count=1000):
            keys.append(key)
            if len(keys) == 1000:
                flush(keys)
                keys = []
        if keys:
            flush(keys)


def run_threads(target, nodes, *args) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    threads = [threading.Thread(target=target, args=(n.host, n.port, *args)) for n in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def per_key_node(host: str, port: int, sample: int, out: list[int]) -> None:
    cli = redis.Redis(host=host, port=port)
    done = 0
    for key in cli.scan_iter(match=PATTERN, count=1000):
        v = cli.hget(key, "field_1")
        if v and int(v) > 0:
            cli.hincrby(key, "field_2", int(v))
        done += 1
        if done >= sample:
            break
    out.append(done)


def lib_node(node: dict, token: str, audit_dir: str) -> dict:
    return sweep_node(SETTINGS, node, SweepSpec(pattern=PATTERN, scan_count=1000), token, Path(audit_dir))


def run_lib(token: str, audit_dir: Path) -> tuple[float, int]:
    """bulkscan library path: one process per primary (as mapped tasks), mop-up, audit merge."""
    t0 = time.perf_counter()
    plan = discover(SETTINGS).plan()
    with ProcessPoolExecutor(len(plan)) as pool:
        results = list(pool.map(lib_node, plan, [token] * len(plan), [str(audit_dir)] * len(plan)))
    mop_up(SETTINGS, plan, SweepSpec(pattern=PATTERN), token, audit_dir)
    elapsed = time.perf_counter() - t0
    totals, _ = merge_audits(audit_dir, token)  # the exactly-once proof (not timed: finalize's job)
    assert sum(r["applied"] for r in results) == totals.keys
    return elapsed, totals.keys


def sample_state(keys: list[str]) -> dict[str, tuple[int, int]]:
    rc = redis.RedisCluster(host="127.0.0.1", port=BASE_PORT)
    pipe = rc.pipeline()
    for k in keys:
        pipe.hmget(k, "field_1", "field_2")
    out = {k: (int(a), int(b)) for k, (a, b) in zip(keys, pipe.execute(), strict=False)}
    rc.close()
    return out


def run_dag(audit_dir: Path) -> float:
    os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".airflow-redis-bench"))
    os.environ["AIRFLOW_CONN_BULKSCAN_REDIS_BENCH"] = json.dumps(
        {"conn_type": "redis", "host": "127.0.0.1", "port": BASE_PORT, "extra": {"cluster": True}}
    )
    from tests.airflow_helpers import load_dag

    dag = load_dag("bulkscan_redis_sweep")
    conf = {"redis_conn_id": "bulkscan_redis_bench", "pattern": PATTERN, "audit_store": str(audit_dir)}
    t0 = time.perf_counter()
    dr = dag.test(run_conf=conf)
    elapsed = time.perf_counter() - t0
    assert str(dr.state) == "success", dr.state
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=100_000, help="keys for the per-key round-trip run")
    ap.add_argument("--no-dag", action="store_true")
    ap.add_argument(
        "--rounds",
        type=int,
        default=int(os.environ.get("BENCH_ROUNDS", "3")),
        help="paired rounds of seed and library (order alternating); the figure is their median ratio",
    )
    ap.add_argument("--stop", action="store_true", help="shut the bench cluster down and exit")
    a = ap.parse_args()
    if a.stop:
        for p in range(BASE_PORT, BASE_PORT + 6):
            with contextlib.suppress(redis.RedisError):
                redis.Redis(port=p, socket_timeout=2).shutdown(nosave=True)
        return
    ensure_data(a.keys)
    nodes = discover(SETTINGS).primaries()
    work = Path(tempfile.mkdtemp(prefix="bulkscan-bench-redis-"))
    probe = [f"bench:{i}" for i in random.Random(1).sample(range(a.keys), 2000)]

    done: list[int] = []
    per_s = run_threads(per_key_node, nodes, a.sample // len(nodes), done)
    per_keys = sum(done)
    print(
        f"per-key  {per_keys:>9} keys  {per_s:8.2f} s  {per_keys / per_s:>10,.0f} keys/s"
        f"  (~{a.keys * per_s / per_keys:.1f} s for {a.keys})",
        flush=True,
    )

    seeds, libs, ratios = [], [], []
    for r in range(a.rounds):
        for name in ("seed", "lib") if r % 2 == 0 else ("lib", "seed"):
            if name == "seed":
                (work / f"seed{r}").mkdir()
                seeds.append(run_threads(seed_node, nodes, work / f"seed{r}"))
                continue
            before = sample_state(probe)
            lib_s, lib_keys = run_lib(f"bench-lib-{r}-{time.time_ns()}", work / f"lib{r}")
            after = sample_state(probe)
            assert all(after[k][1] - before[k][1] == before[k][0] for k in probe), "lib sweep not exactly once"
            assert lib_keys == a.keys
            libs.append(lib_s)
        ratios.append(libs[-1] / seeds[-1])
        print(
            f"round {r + 1}/{a.rounds}: seed {seeds[-1]:.2f} s ({a.keys / seeds[-1]:,.0f} keys/s), "
            f"lib {libs[-1]:.2f} s ({a.keys / libs[-1]:,.0f} keys/s), lib/seed {ratios[-1]:.3f}",
            flush=True,
        )
    seed_s, lib_s, lib_vs_seed = median(seeds), median(libs), median(ratios)
    print(f"seed     {a.keys:>9} keys  {seed_s:8.2f} s  median of {a.rounds}", flush=True)
    print(
        f"lib      {a.keys:>9} keys  {lib_s:8.2f} s  median of {a.rounds}; lib/seed per round "
        + ", ".join(f"{x:.3f}" for x in ratios),
        flush=True,
    )

    dag_ratio = "skipped"
    if not a.no_dag:
        dag_s = run_dag(work / "dag")
        print(f"dag      {a.keys:>9} keys  {dag_s:8.2f} s  {a.keys / dag_s:>10,.0f} keys/s", flush=True)
        dag_ratio = f"{dag_s / seed_s:.3f}"
    print(f"audit files under {work}")
    print(f"BENCH redis keys={a.keys} lib_vs_seed={lib_vs_seed:.3f} dag_vs_seed={dag_ratio} rounds={a.rounds}")


if __name__ == "__main__":
    main()
