"""Start/stop the loopback CeleryExecutor stack once, and drive it through the public REST API.

Shared by the `stack` test tier (tests/stack/conftest.py starts it once per pytest session) and by
`make soak` (bench/soak.py), so both run the very same stack with the very same connections.
Every connection a scenario needs is an AIRFLOW_CONN_* variable fixed before the stack starts.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bulkscan.ops.api import AirflowApi, ApiError, quote, resolve_credentials

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "airflow_stack.sh"
STACK_HOME = Path(os.environ.get("BULKSCAN_STACK_HOME", ROOT / ".airflow-stack"))
MYSQL_HOST = os.environ.get("BULKSCAN_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("BULKSCAN_MYSQL_PORT", "3306"))
MYSQL2_PORT = int(os.environ.get("BULKSCAN_FAULT_MYSQL_PORT", "3318"))  # dedicated, restartable
CLUSTER_BASE_PORT = 7301  # the fault tests' own Redis Cluster (7301-7306)
WORKERS = {"w1", "w2"}
# Each worker has its own AIRFLOW_HOME (scripts/airflow_stack.sh); the audit store they share stands in
# for a bucket, named by the Airflow Variable (in the metadata database, where every worker reads it).
SHARED_STORE = STACK_HOME / "shared-store"
AUDIT_STORE_VARIABLE = "bulkscan_audit_store"
RUN_TIMEOUT = 240

# Least-privilege MySQL user (tests/stack/test_security.py); the password is made per session.
LP_USER = "bulkscan_lp"
LP_PASSWORD = os.environ.get("BULKSCAN_LP_PASSWORD") or secrets.token_hex(16)
os.environ["BULKSCAN_LP_PASSWORD"] = LP_PASSWORD  # the soak's pytest child reuses it

ALERT_PORT = int(os.environ.get("BULKSCAN_STACK_ALERT_PORT", "28095"))  # the alert tests' webhook receiver

CONNECTIONS = {
    # Every failure alert and missed deadline of the stack goes to a webhook on loopback; nothing listens
    # there except during the alert test (a failed delivery is logged, never fails a task).
    "bulkscan_alerts": json.dumps(
        {"conn_type": "http", "host": "127.0.0.1", "port": ALERT_PORT, "extra": {"endpoint": "/alerts", "timeout": 3}}
    ),
    # The DAGs' default connection: what a run started by an asset event (no conf) uses.
    "bulkscan_mysql": f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/bs_stack_default",
    "bs_stack_scan": f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/bs_stack_scan",
    "bs_stack_scoring": f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/bs_stack_scoring",
    "bs_stack_backfill": f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/bs_stack_backfill",
    "bs_fault_scan": f"mysql://root@{MYSQL_HOST}:{MYSQL_PORT}/bs_fault_scan",
    "bs_fault_mysql2": f"mysql://root@127.0.0.1:{MYSQL2_PORT}/bs_fault_m2",
    "bs_fault_lp": f"mysql://{LP_USER}:{LP_PASSWORD}@{MYSQL_HOST}:{MYSQL_PORT}/bs_fault_lp",
    # Nothing listens on port 1 of loopback: the "unreachable connection" of the bad-input tests.
    "bs_fault_unreachable": "mysql://root@127.0.0.1:1/nothing",
    "bs_fault_cluster": json.dumps(
        {
            "conn_type": "redis",
            "host": "127.0.0.1",
            "port": CLUSTER_BASE_PORT,
            "extra": {
                "cluster": True,
                "startup_nodes": ",".join(f"127.0.0.1:{CLUSTER_BASE_PORT + i}" for i in range(3)),
            },
        }
    ),
}


def stack_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        BULKSCAN_STACK_HOME=str(STACK_HOME),
        BULKSCAN_STACK_EXTRA_DAGS=str(ROOT / "tests" / "stack" / "dags"),
        BULKSCAN_RETRY_DELAY_SECONDS="1",
        BULKSCAN_PROCESSOR_PREFIXES="bulkscan.,processors.,tests.",
        # member_scoring catches up daily from its start date once unpaused: start it in the future so
        # only the runs the tests trigger exist.
        BULKSCAN_SCORING_START="2099-01-01",
        # A task whose worker died is noticed after 20 s instead of 5 minutes (worker-kill test).
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="20",
        # ... and looked for every 2 s instead of every 10 s.
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="2",
        # member_scoring's deadline is missed by every run of the stack (the alert test receives one).
        BULKSCAN_SCORING_DEADLINE_MINUTES="0",
        # member_scoring starts on its clock or on the upstream flows_complete asset event.
        BULKSCAN_SCORING_SCHEDULE="clock_or_asset",
        **{f"AIRFLOW_CONN_{cid.upper()}": uri for cid, uri in CONNECTIONS.items()},
    )
    return env


def run_script(command: str, timeout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), command], env=stack_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def start() -> AirflowApi:
    """A fresh stack (a leftover one would lack the test dags bundle and connections), DAGs parsed."""
    run_script("stop", 120)
    started = run_script("start", 420)
    if started.returncode != 0:
        raise RuntimeError(f"stack did not start:\n{started.stdout}\n{started.stderr}")
    client = api_client()
    wait(lambda: all(dag_known(client, d) for d in ("bulkscan_stack_smoke", "bulkscan_table_scan")), 120, "DAGs")
    set_audit_store(client, f"file://{SHARED_STORE}")
    return client


def set_audit_store(api: AirflowApi, url: str | None) -> None:
    """Point every worker at one audit store (the Airflow Variable), or remove it (None): each worker
    then falls back to a folder in its own AIRFLOW_HOME."""
    try:
        api.delete(f"/variables/{AUDIT_STORE_VARIABLE}")
    except ApiError as exc:
        if exc.status != 404:  # 404: not set yet
            raise
    if url is not None:
        api.post("/variables", {"key": AUDIT_STORE_VARIABLE, "value": url})


def airflow_cli(*args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    """The airflow CLI against the stack (its metadata database and settings), as an operator runs it."""
    return subprocess.run(
        [str(SCRIPT), "cli", *args], env=stack_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def stop() -> None:
    stopped = run_script("stop", 180)
    if stopped.returncode != 0:
        raise RuntimeError(stopped.stderr)


def api_client() -> AirflowApi:
    return AirflowApi(resolve_credentials(password_file=str(STACK_HOME / "passwords.json")))


class Timeout(AssertionError):
    pass


def wait(check: Callable[[], Any], timeout: float, what: str, every: float = 2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise Timeout(f"timed out after {timeout}s waiting for {what}")


def dag_known(api: AirflowApi, dag_id: str) -> bool:
    return any(d["dag_id"] == dag_id for d in api.get("/dags", dag_id_pattern=dag_id)["dags"])


def trigger(api: AirflowApi, dag_id: str, conf: dict[str, Any]) -> str:
    api.patch(f"/dags/{dag_id}", {"is_paused": False})
    run = api.post(f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
    return str(run["dag_run_id"])


def run_info(api: AirflowApi, dag_id: str, run_id: str) -> dict[str, Any]:
    return dict(api.get(f"/dags/{dag_id}/dagRuns/{quote(run_id)}"))


def finished(api: AirflowApi, dag_id: str, run_id: str, timeout: float = RUN_TIMEOUT) -> str:
    def state() -> str | None:
        s = run_info(api, dag_id, run_id)["state"]
        return s if s in ("success", "failed") else None

    return str(wait(state, timeout, f"{dag_id} run {run_id}"))


def task_instances(api: AirflowApi, dag_id: str, run_id: str) -> dict[tuple[str, int], dict[str, Any]]:
    tis = api.get(f"/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances", limit=1000)["task_instances"]
    return {(t["task_id"], t["map_index"]): t for t in tis}


def xcom(api: AirflowApi, dag_id: str, run_id: str, task_id: str) -> Any:
    path = f"/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances/{task_id}/xcomEntries/return_value"
    return api.get(path, deserialize=True)["value"]


def task_log(api: AirflowApi, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1) -> str:
    path = f"/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances/{task_id}/logs/{try_number}"
    return str(api.get(path, full_content="true", map_index=map_index))


def xcom_mapped(api: AirflowApi, dag_id: str, run_id: str, task_id: str, map_index: int) -> Any:
    path = f"/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances/{task_id}/xcomEntries/return_value"
    return api.get(path, deserialize=True, map_index=map_index)["value"]
