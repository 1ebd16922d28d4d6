"""Where bulkscan finds its `include/` folder (SQL statements, Lua scripts, shard topologies, scoring rules).

One rule, the same in a checkout, the Docker image and any other deployment:

1. `BULKSCAN_INCLUDE_DIR`, when set, names the folder;
2. otherwise it is the `include/` beside the plugins folder that holds this package: `<repo>/include`
   next to `<repo>/plugins/bulkscan` in a checkout, `/opt/airflow/include` next to
   `/opt/airflow/plugins/bulkscan` in the image (docker-compose.yaml mounts both).
"""

from __future__ import annotations

import os
from pathlib import Path

import bulkscan

ENV_VAR = "BULKSCAN_INCLUDE_DIR"


def include_dir() -> Path:
    """The include/ folder by the rule above (not checked for existence: callers name what is missing)."""
    chosen = os.environ.get(ENV_VAR)
    if chosen:
        return Path(chosen)
    package = Path(bulkscan.__file__).resolve().parent  # .../plugins/bulkscan
    return package.parent.parent / "include"


INCLUDE_DIR = include_dir()
SQL_DIR = INCLUDE_DIR / "sql"
LUA_DIR = INCLUDE_DIR / "redis"
