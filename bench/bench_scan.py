"""make bench-scan: one 10M-row table, every approach side by side in one run.

Approaches: raw single-stream mysqlclient SSCursor into Python; ConnectorX + Arrow group-by (single
stream and partitioned); Celery-style 1,000-id range queries; OFFSET paging (on a 1M-row slice);
bulkscan's library path with 1 and 2 worker processes; the whole DAG through `airflow dags test`;
peak RSS of one chunk worker. All compute the same thing: sum(amount) and count per user_id, and
the totals are cross-checked.

The goal figures (`lib2_vs_connectorx`, `rows2_vs_connectorx`) are medians of BENCH_ROUNDS (default 3)
paired rounds: each round runs ConnectorX (one stream and partitioned in two) and bulkscan's 2-worker
library path (pushdown, Arrow batches) one after another, alternating the order, and divides by that
round's better ConnectorX. Both sides start from nothing: ConnectorX in a fresh process
(bench/peer_connectorx.py, interpreter and imports included, as a user's script runs it), bulkscan in
a fresh pool of spawned worker processes. ConnectorX warm in the bench's own process is shown beside it.

Then the same rows keyed by (shop_id, id) with a hot shop (a third of the rows): bulkscan's tuple-key
chunks (library path, 2 workers) against ConnectorX partitioned on `id`, with the chunks' row skew.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_line, ensure_buffer_pool, peak_rss_mb, reset_peak_rss, table, timed

from bulkscan.core.chunks import Chunk
from bulkscan.core.keys import KeyChunk
from bulkscan.core.processors import AggregateByKey, ArrowAggregate, ChunkContext, Processor
from bulkscan.mysqldb.connect import direct
from bulkscan.mysqldb.keyestimate import plan_tuple_key
from bulkscan.mysqldb.planner import iter_plan, plan_table
from bulkscan.mysqldb.scanner import ScanOptions, scan_chunk
from bulkscan.mysqldb.source import TableSpec, resolve_table
from devtools.demo.data import create_events

HOST = os.environ.get("BULKSCAN_MYSQL_HOST", "127.0.0.1")
PORT = int(os.environ.get("BULKSCAN_MYSQL_PORT", "3306"))
DB = "bs_bench"
ROWS = int(os.environ.get("BENCH_ROWS", "10000000"))
TABLE = f"events_{ROWS // 1_000_000}m" if ROWS >= 1_000_000 else f"events_{ROWS}"
OFFSET_SLICE = min(ROWS, 1_000_000)
CHUNK_ROWS = max(10_000, ROWS // 10)


def connect() -> Any:
    return direct(HOST, PORT, database=DB)()


def totals(groups: dict[Any, list[Any]]) -> tuple[int, int, int]:
    return len(groups), int(sum(Decimal(s) for s, _ in groups.values())), int(sum(n for _, n in groups.values()))


def raw_sscursor() -> tuple[int, int, int]:
    import MySQLdb.cursors

    conn = connect()
    cur = conn.cursor(MySQLdb.cursors.SSCursor)
    cur.execute(f"SELECT user_id, amount FROM {TABLE}")
    groups: dict[Any, list[Any]] = defaultdict(lambda: [0, 0])
    for user_id, amount in cur:
        acc = groups[user_id]
        acc[0] += amount
        acc[1] += 1
    conn.close()
    return totals(groups)


def connectorx_arrow(partitions: int, table_name: str = TABLE) -> tuple[int, int, int]:
    """ConnectorX's whole job in a fresh process (bench/peer_connectorx.py): interpreter, imports, read,
    group-by, as a user's script runs it, and as bulkscan's worker processes start from nothing."""
    args = [sys.executable, str(Path(__file__).with_name("peer_connectorx.py")), ARROW_URI, table_name]
    done = subprocess.run([*args, "--partitions", str(partitions)], capture_output=True, text=True, check=True)
    users, total, rows = json.loads(done.stdout.strip().splitlines()[-1])
    return int(users), int(total), int(rows)


def connectorx_warm(partitions: int) -> tuple[int, int, int]:
    """The same read in this process, ConnectorX and pyarrow imported and warm (a second read): the
    peer without its start-up, shown beside the cold figure."""
    import connectorx as cx
    import pyarrow.compute as pc

    kw: dict[str, Any] = {"return_type": "arrow"}
    query = f"SELECT id, user_id, amount FROM {TABLE}" if partitions > 1 else f"SELECT user_id, amount FROM {TABLE}"
    if partitions > 1:
        kw.update(partition_on="id", partition_num=partitions)
    tbl = cx.read_sql(ARROW_URI, query, **kw)
    agg = tbl.group_by("user_id").aggregate([("amount", "sum"), ("amount", "count")])
    return agg.num_rows, int(pc.sum(agg["amount_sum"]).as_py()), int(pc.sum(agg["amount_count"]).as_py())


def _celery_range(bounds: tuple[int, int]) -> dict[Any, list[int]]:
    lo, hi = bounds
    conn = connect()
    cur = conn.cursor()
    groups: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
    for start in range(lo, hi, 1000):  # one "task" per 1,000 ids, as the seed's batch_spread fires
        cur.execute(f"SELECT user_id, amount FROM {TABLE} WHERE id > %s AND id <= %s", (start, start + 1000))
        for user_id, amount in cur.fetchall():
            acc = groups[user_id]
            acc[0] += amount
            acc[1] += 1
    conn.close()
    return dict(groups)


def merge(parts: list[dict[Any, list[Any]]]) -> dict[Any, list[Any]]:
    out: dict[Any, list[Any]] = {}
    for part in parts:
        for g, (s, n) in part.items():
            acc = out.setdefault(g, [0, 0])
            acc[0] += s
            acc[1] += n
    return out


def celery_style(workers: int) -> tuple[tuple[int, int, int], int]:
    cur = connect().cursor()
    cur.execute(f"SELECT MIN(id) - 1, MAX(id) FROM {TABLE}")
    lo, hi = cur.fetchone()
    step = -(-(hi - lo) // (workers * 1000)) * 1000
    spans = [(s, min(s + step, hi)) for s in range(lo, hi, step)]
    with mp.get_context("fork").Pool(workers) as pool:
        parts = pool.map(_celery_range, spans)
    return totals(merge(parts)), -(-(hi - lo) // 1000)


def offset_paging(page: int = 10_000) -> tuple[int, int, int]:
    conn = connect()
    cur = conn.cursor()
    cur.execute(f"SELECT id FROM {TABLE} ORDER BY id LIMIT 1 OFFSET {OFFSET_SLICE - 1}")
    (slice_hi,) = cur.fetchone()
    groups: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
    offset = 0
    while True:
        cur.execute(
            f"SELECT user_id, amount FROM {TABLE} WHERE id <= %s ORDER BY id LIMIT %s OFFSET %s",
            (slice_hi, page, offset),
        )
        rows = cur.fetchall()
        for user_id, amount in rows:
            acc = groups[user_id]
            acc[0] += amount
            acc[1] += 1
        if len(rows) < page:
            break
        offset += page
    conn.close()
    return totals(groups)


ARROW_URI = f"mysql://root@{HOST}:{PORT}/{DB}"


def _lib_chunk(args: tuple[TableSpec, dict[str, Any], str]) -> tuple[dict[Any, list[Any]], int, int, int | None]:
    """One chunk in a worker process; the table was validated once by the caller (TableSpec pickles).
    Read in one snapshot and counted in it (the DAG's reconcile, ScanOptions.count_range)."""
    spec, chunk_data, mode = args
    reset_peak_rss()
    factory = direct(HOST, PORT, database=DB)
    proc: Processor
    if mode == "arrow":
        proc = ArrowAggregate("user_id", "amount")
    else:
        proc = AggregateByKey("user_id", "amount", pushdown=mode == "pushdown")
    chunk = Chunk.from_dict(chunk_data)
    stats = scan_chunk(
        factory, spec, proc, ChunkContext("bench", chunk), options=ScanOptions(count_range=True, arrow_uri=ARROW_URI)
    )
    assert isinstance(proc, AggregateByKey)
    return proc.groups, peak_rss_mb(), stats.rows, stats.range_rows


def library_path(
    workers: int,
    mode: str = "pushdown",
    rows_per_chunk: int = CHUNK_ROWS,
    planning: str = "estimate",
    pool: Any = None,
) -> tuple[tuple[int, int, int], int]:
    """Plan and scan with the library, reconcile included: `planning` "estimate" plans from range
    estimates (no rows read), then the chunks go to the worker processes; "walk" (the planner before
    issue 14) hands each chunk over as soon as the index walk finds its end, so scanning overlaps it.
    Every chunk's rows must equal the COUNT(*) its scan took of its range in its own snapshot.
    The workers are a fresh pool of spawned processes, or `pool` (started and warm already)."""
    conn = connect()
    spec = resolve_table(conn, None, TABLE, "id", ("user_id", "amount"))
    with contextlib.ExitStack() as stack:
        if pool is None:
            pool = stack.enter_context(mp.get_context("spawn").Pool(workers))
        if planning == "walk":
            planned: Any = iter_plan(conn, spec, rows_per_chunk, 1024)
        else:
            planned = plan_table(conn, spec, rows_per_chunk, 1024, "estimate").chunks
        chunks = ((spec, c.as_dict(), mode) for c in planned)
        parts = list(pool.imap_unordered(_lib_chunk, chunks))
    conn.close()
    bad = [(rows, counted) for _, _, rows, counted in parts if rows != counted]
    if bad:
        raise SystemExit(f"reconcile failed: (scanned, counted) {bad}")
    return totals(merge([p for p, _, _, _ in parts])), max(rss for _, rss, _, _ in parts)


def warm_worker() -> None:
    """A started worker with the Arrow path's imports done and Arrow's group-by run once (what a
    long-lived worker has behind it): the warm-against-warm figures."""
    import pyarrow as pa

    import bulkscan.mysqldb.binary_ranges  # noqa: F401

    ArrowAggregate("g", "v").process_arrow(pa.table({"g": [1, 2], "v": [3, 4]}))


COMPOSITE = f"orders_{TABLE.removeprefix('events_')}"
HOT_SHOP = 17


def create_composite() -> tuple[int, float]:
    """The events rows keyed by (shop_id, id), built server-side once: shop 17 holds every third row,
    the rest spread over 996 shops. Returns (rows, seconds to build; 0 when reused)."""
    import time

    conn = connect()
    cur = conn.cursor()
    cur.execute(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s", (DB, COMPOSITE)
    )
    t0, built = time.perf_counter(), 0.0
    if not cur.fetchone()[0]:
        cur.execute(
            f"CREATE TABLE {COMPOSITE}_build (shop_id INT NOT NULL, id BIGINT NOT NULL, user_id INT NOT NULL,"
            " amount INT NOT NULL, PRIMARY KEY (shop_id, id)) ENGINE=InnoDB"
        )
        cur.execute(
            f"INSERT INTO {COMPOSITE}_build SELECT IF(id % 3 = 0, {HOT_SHOP}, 1 + id % 997), id, user_id, amount"
            f" FROM {TABLE} ORDER BY IF(id % 3 = 0, {HOT_SHOP}, 1 + id % 997), id"
        )
        cur.execute(f"RENAME TABLE {COMPOSITE}_build TO {COMPOSITE}")
        cur.execute(f"ANALYZE TABLE {COMPOSITE}")
        cur.fetchall()
        built = time.perf_counter() - t0
    cur.execute(f"SELECT COUNT(*) FROM {COMPOSITE}")
    rows = int(cur.fetchone()[0])
    cur.execute(f"SELECT SUM(amount), COUNT(*) FROM {COMPOSITE}")  # warm it like the events table
    conn.close()
    return rows, built


def _lib_key_chunk(args: tuple[TableSpec, dict[str, Any]]) -> tuple[dict[Any, list[Any]], int, int]:
    spec, chunk_data = args
    proc = AggregateByKey("user_id", "amount")
    chunk = KeyChunk.from_dict(chunk_data)
    stats = scan_chunk(direct(HOST, PORT, database=DB), spec, proc, ChunkContext("bench", chunk))
    return proc.groups, stats.rows, peak_rss_mb()


def library_composite(workers: int) -> tuple[tuple[int, int, int], list[int]]:
    """Tuple-key chunks of (shop_id, id) planned from range estimates (the hot shop again on id), then
    scanned by the workers."""
    conn = connect()
    spec = resolve_table(conn, None, COMPOSITE, "shop_id, id", ("user_id", "amount"))
    with mp.get_context("spawn").Pool(workers) as pool:
        planned = plan_tuple_key(conn, spec, CHUNK_ROWS, 1024, "estimate")
        assert planned.planning == "estimate", "the composite bench table must plan from estimates"
        chunks = ((spec, dict(c.payload())) for c in planned.chunks)
        parts = list(pool.imap_unordered(_lib_key_chunk, chunks))
    conn.close()
    return totals(merge([p for p, _, _ in parts])), [n for _, n, _ in parts]


def connectorx_composite(partitions: int) -> tuple[int, int, int]:
    return connectorx_arrow(partitions, COMPOSITE)


def whole_dag() -> tuple[int, int, int]:
    env = dict(os.environ)
    env["AIRFLOW_CONN_BS_BENCH"] = f"mysql://root@{HOST}:{PORT}/{DB}"
    conf = {
        "conn_id": "bs_bench",
        "table": TABLE,
        "key_column": "id",
        "group_column": "user_id",
        "value_column": "amount",
        "rows_per_chunk": CHUNK_ROWS,
        "max_parallel_chunks": 2,
        "results_schema": "bs_bench_results",
    }
    out = subprocess.run(
        ["airflow", "dags", "test", "bulkscan_table_scan", "-c", json.dumps(conf)],
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        print(out.stdout[-3000:], out.stderr[-3000:], file=sys.stderr)
        raise SystemExit("the DAG run failed")
    cur = connect().cursor()
    cur.execute(
        "SELECT groups_count, value_sum, rows_scanned FROM bs_bench_results.bulkscan_run "
        "WHERE run_key LIKE 'bulkscan_table_scan/%%' ORDER BY finished_at DESC LIMIT 1"
    )
    g, s, n = cur.fetchone()
    return int(g), int(s), int(n)


def warm_server() -> str:
    """Give MariaDB a buffer pool that holds the table (as any server hosting it would) and warm it,
    so every approach reads from memory and the order they run in does not matter."""
    conn = direct(HOST, PORT)()
    before, after = ensure_buffer_pool(conn, int(os.environ.get("BENCH_BUFFER_POOL", str(2 << 30))))
    cur = conn.cursor()
    cur.execute(f"SELECT SUM(amount), COUNT(*) FROM {DB}.{TABLE}")
    cur.execute(f"SELECT COUNT(*) FROM {DB}.{TABLE} FORCE INDEX (PRIMARY)")
    conn.close()
    return f"innodb_buffer_pool_size {before >> 20} MB -> {after >> 20} MB, table read once to warm it"


ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def paired_rounds(answers: dict[str, tuple[int, int, int]]) -> dict[str, list[float]]:
    """The goal figures, measured side by side: ROUNDS rounds of ConnectorX (one stream and partitioned in
    two, each a fresh process) and bulkscan's 2-worker library path (pushdown, then Arrow batches, each a
    fresh pool of spawned workers), then both again warm: ConnectorX in this process, bulkscan on a pool
    started before the rounds with the Arrow imports done. Each round's order is the last one's
    reversed, and each ratio is taken against that round's better ConnectorX of the same kind (cold or
    warm), so a noisy minute moves both sides."""
    out: dict[str, list[float]] = defaultdict(list)
    connectorx_warm(1)  # the warm runs' imports and first read
    with mp.get_context("spawn").Pool(2, initializer=warm_worker) as pool:
        pool.map(time.sleep, [0.5, 0.5])  # both workers started and warm before any clock runs
        runs: dict[str, Any] = {
            "cx1": lambda: connectorx_arrow(1),
            "cx2": lambda: connectorx_arrow(2),
            "lib2": lambda: library_path(2),
            "arrow2": lambda: library_path(2, mode="arrow"),
            "cx1_warm": lambda: connectorx_warm(1),
            "cx2_warm": lambda: connectorx_warm(2),
            "lib2_warm": lambda: library_path(2, pool=pool),
            "arrow2_warm": lambda: library_path(2, mode="arrow", pool=pool),
        }
        for r in range(ROUNDS):
            for name in runs if r % 2 == 0 else reversed(runs):
                seconds, answer = timed(runs[name])
                if name.startswith(("lib2", "arrow2")):
                    answer, rss = answer
                    out[f"{name}_rss"].append(rss)
                answers[f"{name}_{r}"] = answer
                out[name].append(seconds)
            cold, warm = min(out["cx1"][-1], out["cx2"][-1]), min(out["cx1_warm"][-1], out["cx2_warm"][-1])
            for name in ("lib2", "arrow2"):
                out[f"{name}_ratio"].append(out[name][-1] / cold)
                out[f"{name}_warm_ratio"].append(out[f"{name}_warm"][-1] / warm)
                out[f"{name}_cold_vs_warm_ratio"].append(out[name][-1] / warm)
            print(
                f"round {r + 1}/{ROUNDS}: "
                + " ".join(f"{k} {out[k][-1]:.2f}s" for k in runs)
                + f"; lib2/ConnectorX {out['lib2_ratio'][-1]:.3f}, Arrow/ConnectorX {out['arrow2_ratio'][-1]:.3f}"
                + f" (both warm: {out['lib2_warm_ratio'][-1]:.3f}, {out['arrow2_warm_ratio'][-1]:.3f})",
                flush=True,
            )
    return out


def main() -> None:
    t_create, made = timed(lambda: create_events(direct(HOST, PORT), DB, TABLE, ROWS, users=10_000, huge_gap=False))
    print(f"table {DB}.{TABLE}: {made:,} rows (every 7th id missing) [ready in {t_create:.1f}s; created once, reused]")
    print(f"machine: {os.cpu_count()} cores; MariaDB on the same machine; {warm_server()}\n")
    results: list[tuple[str, float | None, str]] = []
    answers: dict[str, tuple[int, int, int]] = {}

    t_raw, answers["raw"] = timed(raw_sscursor)
    results.append(("raw mysqlclient SSCursor, one stream, Python dict", t_raw, ""))
    paired = paired_rounds(answers)
    t_cx1, t_cx2 = median(paired["cx1"]), median(paired["cx2"])
    results.append(("ConnectorX -> Arrow group_by (one stream)", t_cx1, f"fresh process; median of {ROUNDS}"))
    results.append(("ConnectorX -> Arrow group_by (partition_num=2)", t_cx2, f"fresh process; median of {ROUNDS}"))
    t_w1, t_w2 = median(paired["cx1_warm"]), median(paired["cx2_warm"])
    results.append(("  the same two, ConnectorX imported and warm", t_w1, f"partition_num=2: {t_w2:.2f} s"))
    t_cel, (answers["celery"], queries) = timed(lambda: celery_style(2))
    results.append(("Celery-style 1,000-id range queries (2 procs)", t_cel, f"{queries:,} queries"))
    t_off, off_totals = timed(offset_paging)
    results.append(
        (
            f"OFFSET paging, {OFFSET_SLICE:,}-row slice only",
            t_off,
            f"{OFFSET_SLICE / t_off:,.0f} rows/s on the slice; cost grows with the square of the offset",
        )
    )
    t_lib1, (answers["lib1"], rss1) = timed(lambda: library_path(1))
    results.append(("bulkscan library path, 1 worker (pushdown)", t_lib1, f"{CHUNK_ROWS:,} rows per chunk"))
    t_lib2, rss2 = median(paired["lib2"]), max(paired["lib2_rss"])
    results.append(("bulkscan library path, 2 workers (pushdown)", t_lib2, f"reconciled; median of {ROUNDS}"))
    t_walk, (answers["lib2walk"], _) = timed(lambda: library_path(2, planning="walk"))
    results.append(("  the same, planned by walking the index", t_walk, "the planner before issue 14"))
    t_libpy, (answers["lib2py"], rss_py) = timed(lambda: library_path(2, mode="rows"))
    results.append(("bulkscan library path, 2 workers (rows to Python)", t_libpy, "keyset batches of tuples"))
    t_arrow, rss_arrow = median(paired["arrow2"]), max(paired["arrow2_rss"])
    results.append(("bulkscan library path, 2 workers (Arrow batches)", t_arrow, f"binary rows; median of {ROUNDS}"))
    t_lw, t_aw = median(paired["lib2_warm"]), median(paired["arrow2_warm"])
    results.append(("  the same two, on 2 workers started and warm", t_lw, f"Arrow batches: {t_aw:.2f} s"))
    t_dag, answers["dag"] = timed(whole_dag)
    results.append(("bulkscan whole DAG (airflow dags test)", t_dag, "incl. Airflow start-up, plan, reconcile"))
    # Peak RSS of one chunk worker at the largest chunk size (the whole table in one chunk), worst case rows mode.
    _, (_, rss_one_chunk) = timed(lambda: library_path(1, mode="rows", rows_per_chunk=ROWS))
    peak_rss = max(rss1, rss2, rss_py, rss_arrow, rss_one_chunk)
    lib2_ratio = median(paired["lib2_ratio"])
    rows2_ratio = median(paired["arrow2_ratio"])

    table(results, ROWS)

    made_c, built_c = create_composite()
    print(
        f"\ncomposite key: {DB}.{COMPOSITE}, {made_c:,} rows keyed by (shop_id, id), shop {HOT_SHOP} holds a third"
        f" [{'built in ' + format(built_c, '.1f') + 's' if built_c else 'reused'}]"
    )
    composite: list[tuple[str, float | None, str]] = []
    t_ccx1, answers["composite_cx1"] = timed(lambda: connectorx_composite(1))
    composite.append(("ConnectorX -> Arrow group_by (one stream)", t_ccx1, ""))
    t_ccx2, answers["composite_cx2"] = timed(lambda: connectorx_composite(2))
    composite.append(("ConnectorX -> Arrow group_by (partition_on=id, 2)", t_ccx2, ""))
    t_comp, (answers["composite_lib2"], chunk_rows) = timed(lambda: library_composite(2))
    skew = max(chunk_rows) / (sum(chunk_rows) / len(chunk_rows))
    composite.append(
        (
            "bulkscan library path, 2 workers, (shop_id, id) chunks, estimated plan",
            t_comp,
            f"{len(chunk_rows)} chunks, skew {skew:.3f}",
        )
    )
    table(composite, made_c)
    best_ccx = min(t_ccx1, t_ccx2)
    print(f"\nOFFSET slice check: {off_totals[2]:,} rows read")
    expected = answers["raw"]
    agree = all(v == expected for v in answers.values())
    print(f"all approaches agree on (users, sum, rows) = {expected}: {'yes' if agree else 'NO: ' + str(answers)}")
    print(
        f"peak RSS of one chunk worker: {peak_rss} MB (pushdown {max(rss1, rss2)} MB, rows mode {rss_py} MB, "
        f"Arrow batches {rss_arrow} MB, "
        f"one {ROWS:,}-row chunk in rows mode {rss_one_chunk} MB)"
    )
    best_cx = min(t_cx1, t_cx2)
    spread = {k: f"{min(paired[k]):.3f}-{max(paired[k]):.3f}" for k in ("lib2_ratio", "arrow2_ratio")}
    print(
        f"ratios (bulkscan / other, lower is better; medians of {ROUNDS} paired rounds, each against the round's "
        f"better ConnectorX): lib2 {lib2_ratio:.3f} ({spread['lib2_ratio']}), Arrow batches {rows2_ratio:.3f} "
        f"({spread['arrow2_ratio']}); both warm: lib2 "
        f"{median(paired['lib2_warm_ratio']):.3f}, Arrow batches {median(paired['arrow2_warm_ratio']):.3f}; bulkscan "
        f"cold against ConnectorX warm: {median(paired['lib2_cold_vs_warm_ratio']):.3f}, "
        f"{median(paired['arrow2_cold_vs_warm_ratio']):.3f}; "
        f"DAG vs raw {t_dag / t_raw:.3f}, lib2 vs Celery-style {t_lib2 / t_cel:.3f}, "
        f"composite lib2 vs best ConnectorX {t_comp / best_ccx:.3f} (chunk rows max/mean {skew:.3f})"
    )
    if not agree:
        raise SystemExit(1)
    print(
        bench_line(
            "scan",
            rows=ROWS,
            lib2_vs_connectorx=lib2_ratio,
            rows2_vs_connectorx=rows2_ratio,
            lib2_vs_connectorx_both_warm=median(paired["lib2_warm_ratio"]),
            rows2_vs_connectorx_both_warm=median(paired["arrow2_warm_ratio"]),
            walk2_vs_connectorx=t_walk / best_cx,
            dag_vs_raw=t_dag / t_raw,
            composite_vs_connectorx=t_comp / best_ccx,
            composite_chunk_skew=skew,
            peak_rss_mb=peak_rss,
        )
    )


if __name__ == "__main__":
    main()
