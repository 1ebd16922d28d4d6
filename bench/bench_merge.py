"""make bench-merge: the run's merge of per-chunk partial sums, the statement before revision 0003 and now.

The table scan's `summarize` folds every chunk's partial sums (bulkscan_partial) into one row per group
(bulkscan_result) in one INSERT ... SELECT. Before revision 0003 that SELECT grouped on (run_key,
group_key) in a temporary table, which spills to disk once the groups outgrow tmp_table_size; now it
reads the partials through the by_group index in group order and adds them up as it goes. Both
statements run on the same partial rows, side by side in paired rounds (order reversed every round),
at two sizes: 10,000 groups (the 10M-row bench table's users) and 250,000, each over 4 chunks, every
group in every chunk. Both must give the same result rows.

Last line: BENCH merge groups=<n> chunks=<n> merge_vs_before=<ratio> small_groups=<n>
small_merge_vs_before=<ratio> merge_s=<s> before_s=<s> (medians; ratio = now / before).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_line, timed

from bulkscan.mysqldb.connect import direct
from bulkscan.mysqldb.results import ResultStore

HOST = os.environ.get("BULKSCAN_MYSQL_HOST", "127.0.0.1")
PORT = int(os.environ.get("BULKSCAN_MYSQL_PORT", "3306"))
SCHEMA = "bs_bench_merge"
CHUNKS = 4
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
RUN = "bulkscan_table_scan/manual__2026-12-06T22:28:52.940692+00:00"  # as long as a real run key

# The merge as it was before revision 0003 (include/sql/results/result_merge.sql at that time).
BEFORE = (
    "INSERT INTO {s}.bulkscan_result (run_key, group_key, value_sum, row_count) "
    "SELECT run_key, group_key, SUM(value_sum), SUM(row_count) FROM {s}.bulkscan_partial "
    "WHERE run_key = %s GROUP BY run_key, group_key"
)


def load(conn: object, groups: int) -> None:
    cur = conn.cursor()  # type: ignore[attr-defined]
    cur.execute(f"DELETE FROM {SCHEMA}.bulkscan_partial")
    cur.execute(
        f"INSERT INTO {SCHEMA}.bulkscan_partial SELECT %s, c.seq, CONCAT('user:', g.seq), g.seq * 1.25 + c.seq, "
        f"c.seq + 1 FROM seq_0_to_{CHUNKS - 1} c JOIN seq_1_to_{groups} g",
        (RUN,),
    )
    conn.commit()  # type: ignore[attr-defined]


def before(conn: object) -> list[tuple[object, ...]]:
    cur = conn.cursor()  # type: ignore[attr-defined]
    cur.execute(f"DELETE FROM {SCHEMA}.bulkscan_result WHERE run_key = %s", (RUN,))
    cur.execute(BEFORE.format(s=SCHEMA), (RUN,))
    conn.commit()  # type: ignore[attr-defined]
    return result(conn)


def now(store: ResultStore, conn: object) -> list[tuple[object, ...]]:
    store.merge(RUN, job="bench", source="bench", chunks=CHUNKS, rows=0)
    return result(conn)


def result(conn: object) -> list[tuple[object, ...]]:
    cur = conn.cursor()  # type: ignore[attr-defined]
    cur.execute(f"SELECT group_key, value_sum, row_count FROM {SCHEMA}.bulkscan_result WHERE run_key = %s", (RUN,))
    return sorted(cur.fetchall())


def measure(store: ResultStore, conn: object, groups: int) -> tuple[float, float]:
    load(conn, groups)
    times: dict[str, list[float]] = {"before": [], "now": []}
    for r in range(ROUNDS):
        answers = {}
        for name in ("before", "now") if r % 2 == 0 else ("now", "before"):
            seconds, answers[name] = timed(lambda n=name: before(conn) if n == "before" else now(store, conn))
            times[name].append(seconds)
        if answers["before"] != answers["now"] or len(answers["now"]) != groups:
            raise SystemExit(f"RESULT MISMATCH at {groups} groups")
        print(f"{groups:>8,} groups x {CHUNKS} chunks, round {r + 1}: before {times['before'][-1]:.3f} s, "
              f"now {times['now'][-1]:.3f} s", flush=True)  # fmt: skip
    return median(times["now"]), median(times["before"])


def main() -> None:
    root = direct(HOST, PORT)()
    root.cursor().execute(f"DROP DATABASE IF EXISTS {SCHEMA}")
    store = ResultStore(direct(HOST, PORT), SCHEMA)
    store.ensure()  # the head revision: by_group included
    conn = direct(HOST, PORT, database=SCHEMA)()  # a current database: the seq_ tables need one
    big = int(os.environ.get("BENCH_MERGE_GROUPS", "250000"))
    small = 10_000
    small_now, small_before = measure(store, conn, small)
    big_now, big_before = measure(store, conn, big)
    root.cursor().execute(f"DROP DATABASE IF EXISTS {SCHEMA}")
    print(f"the merge of {CHUNKS} chunks: {small:,} groups {small_before:.3f} s -> {small_now:.3f} s, "
          f"{big:,} groups {big_before:.3f} s -> {big_now:.3f} s (medians of {ROUNDS} paired rounds)")  # fmt: skip
    print(bench_line("merge", groups=big, chunks=CHUNKS, merge_vs_before=big_now / big_before, small_groups=small,
                     small_merge_vs_before=small_now / small_before, merge_s=big_now, before_s=big_before))  # fmt: skip


if __name__ == "__main__":
    main()
