"""DAG integrity over the whole DagBag: imports cleanly, no I/O at parse time, and production
settings on every DAG (retries, tags, docs, one run at a time, labelled mapped tasks, typed Params)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest

DAGS = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


@pytest.fixture(scope="module")
def dagbag(monkeypatch_module: pytest.MonkeyPatch) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access while parsing DAGs: {args}")

    # Parsing must not open a connection: database and network work happens inside tasks only.
    monkeypatch_module.setattr(socket.socket, "connect", no_network)
    return DagBag(dag_folder=str(DAGS))


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_every_dag_file_imports(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    files = {Path(d.fileloc).name for d in dagbag.dags.values()}
    assert files == {p.name for p in DAGS.glob("*.py")}, "every file in dags/ defines a DAG"
    assert "bulkscan_table_scan" in dagbag.dags


def test_production_settings_on_every_dag(dagbag: Any) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md and len(dag.doc_md) > 80, f"{dag_id} has no doc_md"
        assert dag.max_active_runs == 1, f"{dag_id} may run twice at once"
        assert dag.dagrun_timeout is not None and dag.dagrun_timeout.total_seconds() > 0, f"{dag_id} never times out"
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"
            assert task.execution_timeout is not None, f"{dag_id}.{task.task_id} has no execution_timeout"
            assert task.execution_timeout <= dag.dagrun_timeout, f"{dag_id}.{task.task_id} outlives its run"


def test_mapped_tasks_are_labelled_and_capped(dagbag: Any) -> None:
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    mapped = [(d, t) for d in dagbag.dags.values() for t in d.tasks if isinstance(t, MappedOperator)]
    assert mapped, "bulkscan's DAGs fan out with mapped tasks"
    for dag, task in mapped:
        label = task.partial_kwargs.get("map_index_template") or getattr(task, "map_index_template", None)
        assert label, f"{dag.dag_id}.{task.task_id} has no map_index_template"
        cap = task.partial_kwargs.get("max_active_tis_per_dagrun") or getattr(task, "max_active_tis_per_dagrun", None)
        assert cap, f"{dag.dag_id}.{task.task_id} has no max_active_tis_per_dagrun"


def test_mapped_tasks_wait_in_pools_that_bulkscan_creates(dagbag: Any) -> None:
    """Every mapped task runs in one of include/pools.json's pools (a pool that does not exist would
    leave its tasks unscheduled forever); `python -m bulkscan.ops.pools` creates exactly those."""
    from airflow.models.pool import Pool
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    from bulkscan.ops import pools

    wanted = pools.wanted()
    used = {t.pool for d in dagbag.dags.values() for t in d.tasks if isinstance(t, MappedOperator)}
    assert used == set(wanted), (used, set(wanted))
    assert pools.main(["--check"]) == 0  # scripts/airflow_db.sh created them in this metadata database
    for name, spec in wanted.items():
        assert (Pool.get_pool(name) or Pool()).slots >= 1, name
        assert spec["description"].startswith("bulkscan:"), name


def test_params_explain_themselves(dagbag: Any) -> None:
    for dag_id, dag in dagbag.dags.items():
        for name, param in dag.params.items():
            param = dag.params.get_param(name)
            assert param.schema.get("type"), f"{dag_id} param {name} has no type"
            assert param.schema.get("title"), f"{dag_id} param {name} has no title"
            assert param.description, f"{dag_id} param {name} has no description"
