"""A retried chunk resumes from its last checkpoint, and the outbox holds every row's message once.

Seed 000's job sends a message per row. Here the built-in outbox processor (`SendMessages`) records
every row it is handed in `seen` (row by row, outside any transaction) and chunk 1's first try fails
after its third batch was processed but before that batch's checkpoint committed. Ground truth is
the source table itself.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from bulkscan.mysqldb.connect import direct
from devtools.demo.data import create_events
from tests.airflow_helpers import load_dag, ti_table
from tests.conftest import MYSQL_HOST, MYSQL_PORT

pytestmark = [pytest.mark.integration, pytest.mark.dagrun]
DB = "bs_resume"
RESULTS = "bs_resume_results"
CONN = "bs_resume"
ROWS = 120_000
SEEN = (
    "CREATE TABLE seen (run_key VARCHAR(250), chunk_index INT, row_key BIGINT, try_number INT, replay TINYINT,"
    " batch INT, KEY (run_key, chunk_index, try_number))"
)


@pytest.fixture(scope="module")
def source(mysql_root: Any) -> Any:
    os.environ[f"AIRFLOW_CONN_{CONN.upper()}"] = f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{DB}"
    for db in (DB, RESULTS):
        mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {db}")
    create_events(direct(MYSQL_HOST, MYSQL_PORT), DB, "events", ROWS, users=500)
    mysql_root(DB).cursor().execute(SEEN)
    yield mysql_root
    if not os.environ.get("KEEP"):
        for db in (DB, RESULTS):
            mysql_root().cursor().execute(f"DROP DATABASE IF EXISTS {db}")


def seen_by(cur: Any, run_key: str, chunk: int) -> dict[int, list[tuple[int, int, int]]]:
    """try -> [(row key, replay, batch)] in the order the processor was handed them."""
    cur.execute(
        "SELECT try_number, row_key, replay, batch FROM seen WHERE run_key = %s AND chunk_index = %s",
        (run_key, chunk),
    )
    out: dict[int, list[tuple[int, int, int]]] = {}
    for t, k, r, b in cur.fetchall():
        out.setdefault(t, []).append((k, r, b))
    return out


def check_resumed_exactly_once(mysql_root: Any, run_key: str, fail_chunk: int, fail_batch: int) -> None:
    """The invariants of a chunk whose first try died after `fail_batch` batches were processed."""
    cur = mysql_root(DB).cursor()
    tries = seen_by(cur, run_key, fail_chunk)
    assert sorted(tries) == [1, 2]
    first, second = tries[1], tries[2]
    committed = [k for k, _, b in first if b < fail_batch]
    in_flight = [k for k, _, b in first if b == fail_batch]
    assert committed and in_flight
    # the retry began right after the last checkpoint, with exactly the batch that was in flight, flagged
    replayed = [k for k, r, _ in second if r]
    assert replayed == in_flight
    assert second[0][0] == in_flight[0] and not set(committed) & {k for k, _, _ in second}
    # between them the two tries saw every row of the chunk: none skipped
    cur.execute(
        "SELECT lo, hi FROM bs_resume_results.bulkscan_chunk WHERE run_key = %s AND chunk_index = %s",
        (run_key, fail_chunk),
    )
    lo, hi = cur.fetchone()
    cur.execute("SELECT id FROM events WHERE id >= %s AND id < %s ORDER BY id", (lo, hi))
    assert committed + [k for k, _, _ in second] == [r[0] for r in cur.fetchall()]
    # and the outbox holds every row's message exactly once, as the source says it should read
    cur.execute(
        "SELECT COUNT(*), COUNT(DISTINCT o.row_key), SUM(o.message = CONCAT('hello ', e.user_id))"
        " FROM bs_resume_results.bulkscan_outbox o JOIN events e ON e.id = o.row_key WHERE o.run_key = %s",
        (run_key,),
    )
    assert tuple(int(x) for x in cur.fetchone()) == (ROWS, ROWS, ROWS)
    cur.execute("SELECT COUNT(*) FROM bs_resume_results.bulkscan_outbox WHERE run_key = %s", (run_key,))
    assert cur.fetchone()[0] == ROWS


def test_a_failed_try_resumes_from_its_checkpoint_and_the_outbox_is_exactly_once(source: Any) -> None:
    dag = load_dag("bulkscan_table_scan")
    args = {"control_db": DB, "column": "user_id", "fail_at": [1, 3], "port": MYSQL_PORT}
    conf = {
        "conn_id": CONN,
        "table": "events",
        "key_column": "id",
        "rows_per_chunk": 40_000,
        "max_chunks": 64,
        "max_parallel_chunks": 2,
        "results_schema": RESULTS,
        "processor": "tests.processors:recording_messages",
        "processor_args": args,
        "batch_seconds": 30,  # batches grow fast (10k, 20k, ...): several per chunk
    }
    dr = dag.test(run_conf=conf)
    assert str(dr.state) == "success", ti_table(dag.dag_id, dr.run_id)
    run_key = f"{dag.dag_id}/{dr.run_id}"
    tis = ti_table(dag.dag_id, dr.run_id)
    assert tis[("scan_chunk", 1)][1] == 2 and tis[("scan_chunk", 0)][1] == 1
    check_resumed_exactly_once(source, run_key, 1, 3)
    cur = source(DB).cursor()
    for chunk in (0, 2):  # chunks that did not fail saw each row once, in one try
        tries = seen_by(cur, run_key, chunk)
        assert list(tries) == [1] and not any(r for _, r, _ in tries[1])
