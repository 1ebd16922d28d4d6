"""Smoke DAG for the loopback CeleryExecutor stack: mapped squares summed, one result to check.

Each mapped task holds its worker slot for a few seconds, so with two workers of two slots each the
scheduler has to hand chunks to both workers.
"""

from __future__ import annotations

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
        "hold_seconds": Param(
            3, type="integer", minimum=0, maximum=60, title="Seconds each chunk holds"
        ),
    },
)
def bulkscan_stack_smoke() -> None:
    @task
    def chunks(**context: object) -> list[int]:
        params = context["params"]
        return list(range(int(params["n"])))  # type: ignore[index]

    @task(map_index_template="{{ label }}", retries=2)
    def square(i: int, **context: object) -> int:
        get_current_context()["label"] = f"chunk {i}"
        time.sleep(int(context["params"]["hold_seconds"]))  # type: ignore[index]
        return i * i

    @task
    def total(values: list[int]) -> int:
        return sum(values)

    total(square.expand(i=chunks()))


bulkscan_stack_smoke()
