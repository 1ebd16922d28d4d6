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
from tests.table_scan.resume_truth import SEEN, check_resumed_exactly_once, seen_by

pytestmark = [pytest.mark.integration, pytest.mark.dagrun]
DB = "bs_resume"
RESULTS = "bs_resume_results"
CONN = "bs_resume"
ROWS = 120_000


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
    check_resumed_exactly_once(source(DB).cursor(), RESULTS, run_key, (1, 3), ROWS)
    cur = source(DB).cursor()
    for chunk in (0, 2):  # chunks that did not fail saw each row once, in one try
        tries = seen_by(cur, run_key, chunk)
        assert list(tries) == [1] and not any(r for _, r, _ in tries[1])
