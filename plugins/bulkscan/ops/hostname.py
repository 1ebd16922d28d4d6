"""Worker hostname for Airflow's `[core] hostname_callable`.

Two Celery workers on one machine share its FQDN, so task instances could not tell which worker ran
them. The loopback stack gives each worker its own name through BULKSCAN_WORKER_HOSTNAME; anywhere
else this is plain socket.getfqdn().
"""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    """The name this process reports as a task instance's hostname."""
    return os.environ.get("BULKSCAN_WORKER_HOSTNAME") or socket.getfqdn()
