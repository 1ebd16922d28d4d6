"""The bulkscan plugin: a "bulkscan" tab on every run of a DAG (Airflow 3 external view, dag_run
destination) showing bulkscan's report of that run, and a "bulkscan" entry in the navigation with the
last runs of each bulkscan DAG. Both pages are served by bulkscan.ui.app on the api-server at /bulkscan.

This is the one file of plugins/ that Airflow's plugin manager loads (plugins/.airflowignore keeps it
out of the bulkscan package); the app is imported only where the plugin manager asks for fastapi_apps
(the api-server), never by the scheduler or the workers.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin


class _LazyApp:
    """The FastAPI app, imported on first use (the api-server), so loading the plugin costs nothing."""

    def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        from bulkscan.ui.app import app

        return app(scope, receive, send)


class BulkscanPlugin(AirflowPlugin):
    name = "bulkscan"
    fastapi_apps = [{"app": _LazyApp(), "url_prefix": "/bulkscan", "name": "bulkscan run reports"}]
    external_views = [
        {
            "name": "bulkscan",
            "href": "/bulkscan/run/{DAG_ID}/{RUN_ID}",
            "destination": "dag_run",
            "url_route": "bulkscan_run",
        },
        {"name": "bulkscan", "href": "/bulkscan/", "destination": "nav", "url_route": "bulkscan", "category": "browse"},
    ]
