"""The workers' Celery configuration (bulkscan.glue.celery_config): Airflow's own settings unchanged,
and every module bulkscan's task processes need imported by the worker before it forks, opening nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, os, sys
before = set(sys.modules)
# the app Airflow's Celery executor and workers build, from [celery] celery_config_options
from airflow.providers.celery.executors.celery_executor_utils import app
from bulkscan.glue.celery_config import PRELOAD
app.loader.import_default_modules()  # what a Celery worker does at start, before it forks its pool
fds = []
for fd in os.listdir("/proc/self/fd"):
    try:
        fds.append(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        pass  # the listing's own descriptor
print(json.dumps({"new": sorted(set(PRELOAD) & (set(sys.modules) - before)), "missing": [m for m in PRELOAD
      if m not in sys.modules], "sockets": sum(f.startswith("socket:") for f in fds),
      "no_prefetch": app.conf.worker_disable_prefetch, "imports": list(app.conf.imports)}))
"""


def test_the_config_is_airflows_default_with_the_preloads_added() -> None:
    from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

    from bulkscan.glue.celery_config import CELERY_CONFIG, PRELOAD

    ours = {"imports", "worker_disable_prefetch"}
    assert {k: v for k, v in CELERY_CONFIG.items() if k not in ours} == DEFAULT_CELERY_CONFIG
    assert not ours & set(DEFAULT_CELERY_CONFIG)
    assert CELERY_CONFIG["imports"] == PRELOAD and CELERY_CONFIG["worker_disable_prefetch"] is True


def test_a_worker_start_imports_every_task_module_and_opens_no_connection() -> None:
    """Run in a fresh interpreter with the setting docker/airflow.env gives, as a worker starts: Airflow's
    Celery app carries it (no prefetch), Celery's own loader imports the preloads (a missing module would
    stop every worker from starting), and importing them opened no socket."""
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}",
        "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "bulkscan.glue.celery_config.CELERY_CONFIG",
    }
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["missing"] == [] and "bulkscan.jobs.table_scan.tasks" in got["new"]
    assert got["sockets"] == 0
    assert got["no_prefetch"] is True and "bulkscan.mysqldb.migrations" in got["imports"]


def test_both_stacks_select_it() -> None:
    """docker/airflow.env is read by docker-compose.yaml and by the loopback stack alike."""
    lines = (ROOT / "docker" / "airflow.env").read_text().splitlines()
    assert "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=bulkscan.glue.celery_config.CELERY_CONFIG" in lines
