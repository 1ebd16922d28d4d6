"""Drive existing DAG runs in-process the way `dag.test()` does, for retry-one-chunk tests.

`dag.test()` always starts a fresh run (it replaces any run of the same logical date), so clearing
one map index and resuming *that* run needs this small loop over Airflow's own machinery.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select


def serialized(dag: Any) -> Any:
    from airflow.serialization.serialized_objects import DagSerialization

    return DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))


def ti_table(dag_id: str, run_id: str) -> dict[tuple[str, int], tuple[str | None, int, str | None]]:
    """(task_id, map_index) -> (state, try_number, rendered_map_index) of one run."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(
            select(
                TaskInstance.task_id,
                TaskInstance.map_index,
                TaskInstance.state,
                TaskInstance.try_number,
                TaskInstance.rendered_map_index,
            ).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        ).all()
    return {(t, m): (str(s) if s else None, n, r) for t, m, s, n, r in rows}


def clear_map_indexes(dag: Any, run_id: str, targets: Iterable[tuple[str, int] | str]) -> int:
    """Clear exactly these (task_id, map_index) pairs (and plain task ids) of one run."""
    from airflow.utils.state import DagRunState

    return serialized(dag).clear(task_ids=list(targets), run_id=run_id, dag_run_state=DagRunState.RUNNING)


def resume_run(dag: Any, run_id: str, timeout_s: float = 300) -> str:
    """Run the schedulable task instances of an existing run until it finishes; return its state."""
    from airflow import settings
    from airflow.models.dagrun import DagRun
    from airflow.sdk import timezone
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils.state import DagRunState, TaskInstanceState

    session = settings.Session()
    dr = session.scalar(select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == run_id))
    assert dr is not None, f"no run {run_id}"
    dr.dag = serialized(dag)
    if dr.state == DagRunState.QUEUED:
        dr.state = DagRunState.RUNNING
        session.commit()
    deadline = time.monotonic() + timeout_s
    while dr.state == DagRunState.RUNNING:
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still running after {timeout_s}s")
        session.expire_all()
        schedulable, _ = dr.update_state(session=session)
        for ti in schedulable:
            if ti.state != TaskInstanceState.UP_FOR_RESCHEDULE:
                ti.try_number += 1
            ti.state = TaskInstanceState.SCHEDULED
            ti.scheduled_dttm = timezone.utcnow()
        session.commit()
        scheduled = [ti for ti in dr.get_task_instances(session=session) if ti.state == TaskInstanceState.SCHEDULED]
        if not scheduled:
            time.sleep(0.5)
        for ti in scheduled:
            with contextlib.suppress(Exception):  # the task's state records the failure
                _run_task(ti=ti, task=dag.task_dict[ti.task_id])
    state = str(dr.state)
    session.close()
    return state


def load_dag(dag_id: str) -> Any:
    """Parse the DAG's file (dags/<dag_id>.py) like the dag processor does; fail on import errors."""
    import os
    from pathlib import Path

    from airflow.dag_processing.dagbag import DagBag

    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{dag_id}.py"
    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags[dag_id]
    # Airflow 3.3's dag.test() cannot finish a run of a DAG with a DeadlineAlert: DagRun.update_state
    # looks the unserialized alert up as a deadline_alert row id and fails. Deadlines are the
    # scheduler's job; the stack tier tests member_scoring's (test_alerts_reach_a_webhook_...).
    assert dag_id != "member_scoring" or dag.deadline is not None
    dag.deadline = None
    return dag


def xcom_of(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    """The XCom a task of a finished run returned (read from the metadata database)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_run.dag_id,
                XComModel.run_id == dag_run.run_id,
                XComModel.task_id == task_id,
                XComModel.key == key,
                XComModel.map_index == -1,
            )
        ).one()
        return XComModel.deserialize_value(row)


def asset_events(uri: str, run_id: str) -> list[dict[str, Any]]:
    """The extras of the asset events one run emitted on the asset `uri` (from the metadata database)."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == uri, AssetEvent.source_run_id == run_id)
        ).all()
    return [dict(extra or {}) for (extra,) in rows]
