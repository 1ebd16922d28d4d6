"""`make demo`: seed a table with id gaps, run bulkscan_table_scan with `airflow dags test`, summarise.

Everything goes through the Airflow connection `bulkscan_mysql` (AIRFLOW_CONN_BULKSCAN_MYSQL).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from devtools.demo.seed import DEMO_DB

DAG_ID = "bulkscan_table_scan"
ROWS = int(os.environ.get("BULKSCAN_DEMO_ROWS", "1000000"))
CONF = {
    "conn_id": "bulkscan_mysql",
    "database": DEMO_DB,
    "table": "events",
    "key_column": "id",
    "group_column": "user_id",
    "value_column": "amount",
    "rows_per_chunk": max(1_000, ROWS // 8),
    "max_parallel_chunks": 2,
}


def main() -> int:
    from bulkscan.glue.connections import connect_factory
    from bulkscan.mysqldb.results import ResultStore
    from devtools.demo.seed import seed_events

    connect = connect_factory("bulkscan_mysql")
    t0 = time.monotonic()
    n = seed_events(rows=ROWS)
    print(
        f"demo data: {DEMO_DB}.events holds {n:,} rows (every 7th id missing, one gap of a billion ids) "
        f"[{time.monotonic() - t0:.1f}s]"
    )

    log_path = Path(os.environ["AIRFLOW_HOME"]) / "demo-dag-test.log"
    print(f"running: airflow dags test {DAG_ID} (log: {log_path})")
    t0 = time.monotonic()
    with log_path.open("w") as log:
        rc = subprocess.run(
            ["airflow", "dags", "test", DAG_ID, "-c", json.dumps(CONF)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"},
        ).returncode
    elapsed = time.monotonic() - t0
    text = log_path.read_text()
    if rc != 0 or "DagRun Finished" not in text or "state=success" not in text.split("DagRun Finished")[-1]:
        print("".join(text.splitlines(keepends=True)[-40:]), file=sys.stderr)
        print(f"demo: the DAG run did not succeed (exit {rc}); full log in {log_path}", file=sys.stderr)
        return 1

    store = ResultStore(connect, "bulkscan")
    c = connect()
    cur = c.cursor()
    cur.execute(
        "SELECT run_key, rows_scanned, chunks, groups_count, value_sum FROM bulkscan.bulkscan_run "
        "WHERE run_key LIKE %s ORDER BY finished_at DESC LIMIT 1",
        (f"{DAG_ID}/%",),
    )
    run_key, rows, chunks, groups, value_sum = cur.fetchone()
    cur.execute(f"SELECT COUNT(*), SUM(amount), COUNT(DISTINCT user_id) FROM `{DEMO_DB}`.events")
    t_rows, t_sum, t_groups = cur.fetchone()
    ok = (rows, groups, value_sum) == (t_rows, t_groups, t_sum)
    print(
        f"\nbulkscan_table_scan: {rows:,} rows in {chunks} chunks, {groups:,} users, sum(amount) = {value_sum:,.0f}"
        f"  [{elapsed:.1f}s including Airflow start-up]"
    )
    print(f"{'chunk':>5}  {'ids':<34}{'rows':>10}{'seconds':>9}{'try':>5}")
    for ch in store.chunks(run_key):
        span = f"{ch['lo']:,}-{ch['hi'] - 1:,}"
        print(f"{ch['chunk_index']:>5}  {span:<34}{ch['rows_scanned']:>10,}{ch['seconds']:>9.2f}{ch['try_number']:>5}")
    print("top users by sum(amount): " + ", ".join(f"{g}={s:,.0f}" for g, s, _ in store.top(run_key, 5)))
    print(
        f"check against one plain SQL query: rows {t_rows:,}, users {t_groups:,}, sum {t_sum:,} -> "
        + ("MATCH" if ok else "MISMATCH")
    )
    print(f"results: bulkscan.bulkscan_result WHERE run_key = '{run_key}'")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
