"""What the report reads from Airflow's metadata database (the api-server has it): a run, its params
(the DAG's defaults under the run's conf, as the tasks saw them), task instances and XComs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

BULKSCAN_DAGS = (
    "bulkscan_table_scan",
    "bulkscan_shard_query",
    "bulkscan_redis_sweep",
    "member_scoring",
    "member_scoring_hourly",
)


@dataclass(frozen=True)
class RunInfo:
    dag_id: str
    run_id: str
    state: str
    run_type: str
    started: datetime | None
    ended: datetime | None
    params: dict[str, Any]

    @property
    def run_key(self) -> str:
        return f"{self.dag_id}/{self.run_id}"

    @property
    def seconds(self) -> float | None:
        if self.started and self.ended:
            return (self.ended - self.started).total_seconds()
        return None


def run_info(dag_id: str, run_id: str) -> RunInfo | None:
    from airflow.models.dagbag import DBDagBag
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        dr = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        if dr is None:
            return None
        dag = DBDagBag().get_latest_version_of_dag(dag_id, session=session)
        defaults = dag.params.dump() if dag is not None else {}
        return RunInfo(
            dag_id, run_id, str(dr.state), str(dr.run_type), dr.start_date, dr.end_date, {**defaults, **(dr.conf or {})}
        )


def recent_runs(dag_ids: Sequence[str], per_dag: int = 10) -> list[RunInfo]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    out: list[RunInfo] = []
    with create_session() as session:
        for dag_id in dag_ids:
            rows = session.scalars(
                select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.run_after.desc()).limit(per_dag)
            ).all()
            out += [
                RunInfo(dag_id, r.run_id, str(r.state), str(r.run_type), r.start_date, r.end_date, dict(r.conf or {}))
                for r in rows
            ]
    return out


def xcoms(dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> dict[int, Any]:
    """map index -> value of one task's XCom in one run."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query: Any = XComModel.get_many(run_id=run_id, key=key, task_ids=task_id, dag_ids=dag_id)
        rows: Sequence[Any] = session.scalars(query).all()
        return {int(r.map_index): XComModel.deserialize_value(r) for r in rows}


def task_tries(dag_id: str, run_id: str, task_id: str) -> dict[int, tuple[str | None, int, str | None, float]]:
    """map index -> (state, try number, Grid label, seconds) of one task's instances."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    ti: Any = TaskInstance  # rendered_map_index is a hybrid property: typed as a function
    with create_session() as session:
        rows = session.execute(
            select(ti.map_index, ti.state, ti.try_number, ti.rendered_map_index, ti.duration).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == task_id
            )
        ).all()
    return {int(m): (str(s) if s else None, int(t), r, float(d or 0.0)) for m, s, t, r, d in rows}
