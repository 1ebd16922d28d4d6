"""Failure alerts of every bulkscan task: one message naming the DAG, the run, the failed chunk (its
Grid label) and the error, sent where the Airflow connection `bulkscan_alerts` says.

The connection decides, at alert time (nothing is looked up at parse time):

* no such connection (the default): the alert is logged at ERROR in the task's log, needing no
  external service;
* `http` / `https`: a JSON POST to `<schema or http>://host:port<extra.endpoint>`, body
  `{"text": <message>, "dag_id", "run_id", "task_id", "map_index", "label", "try_number", "error",
  "log_url"}`; a password is sent as a Bearer token. Slack, Mattermost and Teams incoming webhooks
  read the `text` field;
* `smtp` / `email`: an e-mail through the SMTP provider's own `SmtpNotifier`, to `extra.to`.

The notifier runs as the task's `on_failure_callback`, so it fires once per task that failed for good
(after its retries), never for a try that is retried. BULKSCAN_ALERT_CONN_ID names another connection.
`member_scoring` also has a DeadlineAlert (`scoring_deadline`): a run still unfinished
BULKSCAN_SCORING_DEADLINE_MINUTES after it was queued sends the same kind of alert from the triggerer.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from collections.abc import Mapping
from typing import Any

from airflow.sdk import BaseNotifier, Connection

log = logging.getLogger(__name__)
ALERT_CONN_ID = os.environ.get("BULKSCAN_ALERT_CONN_ID", "bulkscan_alerts")


def alert_fields(context: Any) -> dict[str, Any]:
    """What an alert says, from the failed task's context."""
    ti = context["ti"]
    map_index = getattr(ti, "map_index", -1)
    label = getattr(ti, "rendered_map_index", None) or (f"map index {map_index}" if map_index >= 0 else None)
    error = context.get("exception")
    fields = {
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": ti.task_id,
        "map_index": map_index,
        "label": label,
        "try_number": getattr(ti, "try_number", None),
        "error": f"{type(error).__name__}: {error}" if error is not None else None,
        "log_url": getattr(ti, "log_url", None),
    }
    where = f"{fields['task_id']}[{map_index}] ({label})" if map_index >= 0 else fields["task_id"]
    fields["text"] = (
        f"bulkscan: {fields['dag_id']} run {fields['run_id']} failed at {where}, "
        f"try {fields['try_number']}: {fields['error']}" + (f"\nlog: {fields['log_url']}" if fields["log_url"] else "")
    )
    return fields


def _post(conn: Any, fields: dict[str, Any]) -> None:
    extra = conn.extra_dejson
    scheme = conn.schema or conn.conn_type
    port = f":{conn.port}" if conn.port else ""
    url = f"{scheme}://{conn.host}{port}{extra.get('endpoint', '/')}"
    headers = {"Content-Type": "application/json"}
    if conn.password:
        headers["Authorization"] = f"Bearer {conn.password}"
    request = urllib.request.Request(url, json.dumps(fields).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=float(extra.get("timeout", 10))) as answer:
        answer.read()


def _mail(conn: Any, fields: dict[str, Any], context: Any) -> None:
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    extra = conn.extra_dejson
    to = extra.get("to")
    if not to:
        raise ValueError(f"connection {conn.conn_id!r} has no extra.to: whom to send the alert")
    subject = f"bulkscan: {fields['dag_id']} failed at {fields['task_id']} ({fields['label'] or 'task'})"
    body = "<pre>" + json.dumps(fields, indent=2).replace("<", "&lt;") + "</pre>"
    sender = extra.get("from_email") or conn.login
    notifier = SmtpNotifier(to=to, from_email=sender, subject=subject, html_content=body, smtp_conn_id=conn.conn_id)
    notifier.notify(context)


def deliver(fields: dict[str, Any], conn_id: str, context: Any = None) -> None:
    """Send one alert where the connection says (see the module docstring); never raises."""
    try:
        conn = Connection.get(conn_id)
    except Exception:  # noqa: BLE001 - not configured: the default, a log line
        conn = None
    if conn is None:
        log.error("ALERT %s", fields["text"])
        return
    try:
        if conn.conn_type in ("http", "https"):
            _post(conn, fields)
        elif conn.conn_type in ("smtp", "email"):
            _mail(conn, fields, context)
        else:
            raise ValueError(f"connection type {conn.conn_type!r}: expected http, https, smtp or email")
    except Exception:  # an alert that cannot be sent must not hide the task's own failure
        log.exception("could not send the alert through %r; the alert was: %s", conn_id, fields["text"])
        return
    log.info("alert sent through %r (%s)", conn_id, conn.conn_type)


class FailureAlert(BaseNotifier):
    """bulkscan's on_failure_callback: see the module docstring."""

    def __init__(self, conn_id: str = ALERT_CONN_ID) -> None:
        super().__init__()
        self.conn_id = conn_id

    def notify(self, context: Any) -> None:
        deliver(alert_fields(context), self.conn_id, context)


def deadline_fields(context: Mapping[str, Any]) -> dict[str, Any]:
    """What a missed-deadline alert says, from the context the scheduler hands the callback."""
    run = context.get("dag_run") or {}
    deadline = (context.get("deadline") or {}).get("deadline_time")
    fields = {
        "dag_id": run.get("dag_id"),
        "run_id": run.get("dag_run_id") or run.get("run_id"),
        "state": run.get("state"),
        "deadline": str(deadline),
        "task_id": None,
        "map_index": -1,
        "label": None,
    }
    fields["text"] = (
        f"bulkscan: {fields['dag_id']} run {fields['run_id']} missed its deadline {fields['deadline']} "
        f"(state {fields['state']})"
    )
    return fields


async def deadline_missed(context: Mapping[str, Any], conn_id: str = ALERT_CONN_ID) -> None:
    """The DeadlineAlert callback (runs in the triggerer): the same delivery as a failure alert; the
    connection lookup and the send run in a thread, off the triggerer's event loop."""
    from asgiref.sync import sync_to_async

    await sync_to_async(deliver)(deadline_fields(context), conn_id)


def scoring_deadline(minutes: int) -> Any:
    """member_scoring must finish `minutes` after its run is queued (the schedule queues it when the
    business day closes, plus the grace period): a DeadlineAlert whose miss sends `deadline_missed`."""
    from datetime import timedelta

    from airflow.sdk.definitions.callback import AsyncCallback
    from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(minutes=minutes),
        callback=AsyncCallback(deadline_missed, kwargs={"conn_id": ALERT_CONN_ID}),
        name="bulkscan: member_scoring finished",
    )
