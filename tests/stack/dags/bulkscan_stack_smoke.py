"""Smoke DAG for the loopback CeleryExecutor stack: mapped squares summed, one result to check.

Each mapped task holds its worker slot for a few seconds, so with two workers of two slots each the
scheduler has to hand chunks to both workers. Chunk `fail_index` fails (no automatic retry) until
the file `fix_file` exists: the test of retrying one chunk by map index through the REST API.
"""

from __future__ import annotations

import os
import time

from airflow.sdk import Param, dag, get_current_context, task


@dag(
    dag_id="bulkscan_stack_smoke",
    schedule=None,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["bulkscan", "test"],
    params={
        "n": Param(
            8,
            type="integer",
            minimum=1,
            maximum=64,
            title="Chunks",
            description="Mapped tasks",
        ),
        "hold_seconds": Param(3, type="integer", minimum=0, maximum=60, title="Seconds each chunk holds"),
        "fail_index": Param(-1, type="integer", minimum=-1, title="Chunk that fails (-1: none)"),
        "fix_file": Param("", type="string", title="The failing chunk succeeds once this file exists"),
    },
)
def bulkscan_stack_smoke() -> None:
    @task
    def chunks(**context: object) -> list[int]:
        params = context["params"]
        return list(range(int(params["n"])))  # type: ignore[index]

    @task(map_index_template="{{ label }}", retries=0)
    def square(i: int, **context: object) -> int:
        get_current_context()["label"] = f"chunk {i}"  # type: ignore[typeddict-unknown-key]
        params = context["params"]
        time.sleep(int(params["hold_seconds"]))  # type: ignore[index]
        print(f"square {i} ran on {os.environ.get('BULKSCAN_WORKER_HOSTNAME', '?')}")  # the log test reads it
        if i == params["fail_index"] and not os.path.exists(params["fix_file"]):  # type: ignore[index]
            raise RuntimeError(f"chunk {i} fails until {params['fix_file']} exists")  # type: ignore[index]
        return i * i

    @task
    def total(values: list[int]) -> int:
        return sum(values)

    total(square.expand(i=chunks()))


bulkscan_stack_smoke()
