"""Small helpers shared by the benchmarks: timing, side-by-side tables, the BENCH line."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def table(rows: list[tuple[str, float | None, str]], rows_scanned: int | None = None) -> None:
    """Print approaches side by side: name, seconds, rows/s, note."""
    print(f"{'approach':<52}{'seconds':>10}{'rows/s':>14}  note")
    for name, seconds, note in rows:
        if seconds is None:
            print(f"{name:<52}{'-':>10}{'-':>14}  {note}")
            continue
        rate = f"{rows_scanned / seconds:,.0f}" if rows_scanned and seconds else "-"
        print(f"{name:<52}{seconds:>10.2f}{rate:>14}  {note}")


def bench_line(name: str, **values: Any) -> str:
    parts = " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
    return f"BENCH {name} {parts}"


def ensure_buffer_pool(conn: Any, want: int) -> tuple[int, int]:
    """Grow a MariaDB server's InnoDB buffer pool (a dynamic setting) to at least `want` bytes, so the
    benchmark tables are read from memory as on any server sized for them. Returns (before, after)."""
    import time

    cur = conn.cursor()
    cur.execute("SELECT @@innodb_buffer_pool_size")
    (before,) = cur.fetchone()
    if before < want:
        cur.execute(f"SET GLOBAL innodb_buffer_pool_size = {int(want)}")
        for _ in range(240):
            cur.execute("SELECT @@innodb_buffer_pool_size")
            if cur.fetchone()[0] >= want:
                break
            time.sleep(0.5)
    cur.execute("SELECT @@innodb_buffer_pool_size")
    return int(before), int(cur.fetchone()[0])


def reset_peak_rss() -> None:
    """Reset this process's RSS high-water mark (Linux), so the peak measured is one chunk's own."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_mb() -> int:
    """This process's RSS high-water mark in MB (VmHWM; ru_maxrss where /proc has none)."""
    import resource

    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
