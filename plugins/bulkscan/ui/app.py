"""The report's FastAPI app, mounted by the plugin on the api-server at /bulkscan.

Behind Airflow's own authentication and authorization: every route depends on the api-server's
`get_user` (a bearer token, or the UI's session cookie in the iframe) and a run page also on
`requires_access_dag("GET", RUN)` for its DAG; a request without a valid session or token is refused.
"""

from __future__ import annotations

from typing import Annotated, Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse

from bulkscan.ui import pages, runs

app = FastAPI(title="bulkscan run reports", docs_url=None, redoc_url=None, openapi_url=None)


def _may_read(user: Any, dag_id: str) -> bool:
    from airflow.api_fastapi.app import get_auth_manager

    return bool(get_auth_manager().is_authorized_dag(method="GET", details=DagDetails(id=dag_id), user=user))


@app.get("/", response_class=HTMLResponse)
def overview(user: GetUserDep) -> str:
    """The last runs of each bulkscan DAG the user may read."""
    return pages.overview_page(runs.recent_runs([d for d in runs.BULKSCAN_DAGS if _may_read(user, d)]))


@app.get(
    "/run/{dag_id}/{run_id}",
    response_class=HTMLResponse,
    dependencies=[Depends(requires_access_dag("GET", DagAccessEntity.RUN))],
)
def run_report(dag_id: str, run_id: Annotated[str, "the run id as the UI shows it"]) -> str:
    run = runs.run_info(dag_id, run_id)
    if run is None:
        raise HTTPException(404, f"no run {run_id!r} of {dag_id!r}")
    return pages.run_page(run)
