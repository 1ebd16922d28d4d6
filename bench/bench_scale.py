"""make bench-scale: planning cost at 10^7 and 10^8 rows side by side, and a 10^8-row scan.

Both tables have the same sparse layout (bench/scale_data.py: 20 islands, a dense hot range, one gap
of 10^12 ids, a sparse tail) and live on a dedicated loopback MariaDB (port 3326, 8 GB buffer pool),
built once and reused. Figures:
  - planning seconds of each table, estimated (the default) at 1,250,000 rows per chunk (the DAG's
    default when first measured; now 2,500,000), at most 64 chunks, and at the same chunk count (64)
    for both, median of 5; the walk of the key index (the planner before) at 10^7 for comparison;
    each extrapolated to 10^9 on a log-log line;
  - the 10^8-row scan through the library path with 2 worker processes (pushed-down aggregate, every
    batch counted in its own snapshot and each chunk reconciled against the sum), its chunks' real
    rows max/mean, and the peak RSS of a chunk worker.
Last line: BENCH scale rows=<n> plan_share=<plan/scan> plan_growth=<plan(10^8)/plan(10^7)>
chunk_skew=<max/mean> peak_rss_mb=<n>.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_line, peak_rss_mb, reset_peak_rss, table, timed
from scale_data import disk_mb, ensure_table, layout

from bulkscan.core.chunks import Chunk
from bulkscan.core.processors import AggregateByKey, ChunkContext
from bulkscan.mysqldb.connect import direct
from bulkscan.mysqldb.planner import plan_table
from bulkscan.mysqldb.scanner import ScanOptions, scan_chunk
from bulkscan.mysqldb.source import TableSpec, resolve_table

ROOT = Path(__file__).resolve().parents[1]
HOST, PORT = "127.0.0.1", int(os.environ.get("BENCH_SCALE_PORT", "3326"))
BASE = os.environ.get("BENCH_SCALE_DIR", f"/tmp/bulkscan-scale-{PORT}")
DB = "bs_scale"
SMALL, BIG = 10_000_000, int(os.environ.get("BENCH_SCALE_ROWS", "100000000"))
# 1,250,000 rows per chunk, as when the figures in docs/table-scan.md were measured (the DAG's default
# before it became 2,500,000): 8 and 64 chunks, the harder case for the planner; at most 64 chunks.
ROWS_PER_CHUNK, MAX_CHUNKS = 1_250_000, 64
SERVER_OPTS = (
    "--innodb-buffer-pool-size=8G --innodb-log-file-size=2G --innodb-flush-log-at-trx-commit=0 "
    "--innodb-doublewrite=0 --max-allowed-packet=64M"
)


def server() -> None:
    env = {
        **os.environ,
        "BULKSCAN_MYSQL2_PORT": str(PORT),
        "BULKSCAN_MYSQL2_DIR": BASE,
        "BULKSCAN_MYSQL2_OPTS": SERVER_OPTS,
    }
    subprocess.run([str(ROOT / "scripts/mysql2.sh"), "start"], env=env, check=True)


def connect() -> Any:
    return direct(HOST, PORT, database=DB)()


def spec_of(name: str) -> TableSpec:
    conn = connect()
    try:
        return resolve_table(conn, None, name, "id", ("user_id", "amount"))
    finally:
        conn.close()


def plan_seconds(name: str, rows_per_chunk: int, planning: str, repeat: int = 5) -> tuple[float, list[Chunk]]:
    """Median seconds of plan_table on a fresh connection (key bounds, statistics and plan)."""
    spec = spec_of(name)
    times, chunks = [], []
    for _ in range(repeat):
        conn = connect()
        t0 = time.perf_counter()
        chunks = plan_table(conn, spec, rows_per_chunk, MAX_CHUNKS, planning).chunks  # type: ignore[arg-type]
        times.append(time.perf_counter() - t0)
        conn.close()
    return statistics.median(times), chunks


def _chunk(args: tuple[TableSpec, dict[str, Any]]) -> tuple[dict[Any, list[Any]], int, int | None, int]:
    spec, data = args
    reset_peak_rss()
    proc = AggregateByKey("user_id", "amount")
    stats = scan_chunk(
        direct(HOST, PORT, database=DB),
        spec,
        proc,
        ChunkContext("scale", Chunk.from_dict(data)),
        options=ScanOptions(count_range=True),
    )
    return proc.groups, stats.rows, stats.range_rows, peak_rss_mb()


def scan(name: str, chunks: list[Chunk], workers: int = 2) -> tuple[list[int], int, tuple[int, int]]:
    """Scan every chunk in `workers` processes; every chunk must reconcile. Returns (rows per chunk,
    peak RSS MB of a chunk worker, (total rows, value sum))."""
    spec = spec_of(name)
    with mp.get_context("spawn").Pool(workers) as pool:
        parts = pool.map(_chunk, [(spec, c.as_dict()) for c in chunks], chunksize=1)
    bad = [(i, rows, counted) for i, (_, rows, counted, _) in enumerate(parts) if rows != counted]
    if bad:
        raise SystemExit(f"reconcile failed (chunk, scanned, counted): {bad}")
    total = sum(rows for _, rows, _, _ in parts)
    value = sum(Decimal(s) for groups, _, _, _ in parts for s, _ in groups.values())
    return [rows for _, rows, _, _ in parts], max(rss for *_, rss in parts), (total, int(value))


def truth(name: str) -> tuple[int, int]:
    cur = connect().cursor()
    cur.execute(f"SELECT COUNT(*), SUM(amount) FROM `{name}`")
    n, s = cur.fetchone()
    return int(n), int(s)


def extrapolate(t7: float, t8: float) -> tuple[float, float]:
    """(slope of the log-log line through the two sizes, seconds at 10^9 on it)."""
    slope = math.log10(max(t8, 1e-9) / max(t7, 1e-9))
    return slope, t8 * 10**slope


def main() -> None:
    server()
    conn = direct(HOST, PORT)()
    built = {}
    for rows in (SMALL, BIG):
        name, seconds = ensure_table(conn, DB, rows)
        built[rows] = (name, seconds, disk_mb(conn, DB, name))
    conn.close()
    for rows, (name, seconds, mb) in built.items():
        how = f"built in {seconds:.0f}s" if seconds else "reused"
        print(f"table {DB}.{name}: {rows:,} rows, {mb:,} MB on disk [{how}; built once, reused]")
    print(f"layout: {len(layout(BIG))} segments (20 islands, hot range, gap of 10^12, tail); MariaDB on {PORT}\n")
    small, big = built[SMALL][0], built[BIG][0]
    t_warm, facts = timed(lambda: (truth(small), truth(big)))  # also reads both tables into the buffer pool
    print(f"tables read once to warm the buffer pool ({t_warm:.1f}s)\n")

    p7, c7 = plan_seconds(small, ROWS_PER_CHUNK, "estimate")
    p8, c8 = plan_seconds(big, ROWS_PER_CHUNK, "estimate")
    q7, _ = plan_seconds(small, SMALL // MAX_CHUNKS, "estimate")
    q8, _ = plan_seconds(big, BIG // MAX_CHUNKS, "estimate")
    w7, _ = plan_seconds(small, ROWS_PER_CHUNK, "walk", repeat=3)
    slope, p9 = extrapolate(p7, p8)
    qslope, q9 = extrapolate(q7, q8)
    rows = [
        (f"estimated plan, 10^7 rows, DAG defaults ({len(c7)} chunks)", p7, ""),
        (f"estimated plan, 10^8 rows, DAG defaults ({len(c8)} chunks)", p8, f"log-log slope {slope:.2f}"),
        ("  extrapolated to 10^9 rows (64 chunks)", p9, ""),
        ("estimated plan, 10^7 rows, 64 chunks", q7, ""),
        ("estimated plan, 10^8 rows, 64 chunks", q8, f"log-log slope {qslope:.2f}"),
        ("  extrapolated to 10^9 rows", q9, ""),
        ("walk of the key index, 10^7 rows (the planner before)", w7, "linear in the rows"),
        ("  the walk at 10^8 and 10^9 rows, linearly", w7 * 10, f"{w7 * 100:.0f}s at 10^9"),
    ]
    print("planning (median of 5 runs, key bounds and statistics included)")
    table(rows)

    t_scan, (chunk_rows, peak_rss, got) = timed(lambda: scan(big, c8))
    mean = sum(chunk_rows) / len(chunk_rows)
    skew = max(chunk_rows) / mean
    print(f"\nscan of {BIG:,} rows: library path, 2 workers, pushed-down aggregate, every batch counted and reconciled")
    table(
        [(f"scan, {len(c8)} chunks", t_scan, f"chunk rows max/mean {skew:.3f}, min/mean {min(chunk_rows) / mean:.3f}")],
        BIG,
    )
    expected = facts[1]
    agree = got == expected
    print(f"rows and SUM(amount) agree with SQL: {'yes' if agree else f'NO {got} != {expected}'}")
    print(f"peak RSS of a chunk worker: {peak_rss} MB")
    print(
        f"plan share at 10^8: {p8 / t_scan:.4f} of the scan; planning growth 10^7 -> 10^8: {p8 / p7:.2f}x at the"
        f" DAG defaults ({len(c7)} -> {len(c8)} chunks), {q8 / q7:.2f}x at 64 chunks each"
    )
    if not agree:
        raise SystemExit(1)
    print(
        bench_line(
            "scale",
            rows=BIG,
            plan_share=p8 / t_scan,
            plan_growth=p8 / p7,
            plan_growth_same_chunks=q8 / q7,
            chunk_skew=skew,
            peak_rss_mb=peak_rss,
            plan_s=p8,
            scan_s=t_scan,
            plan_1e9_s=p9,
            walk_1e7_s=w7,
        )
    )


if __name__ == "__main__":
    main()
