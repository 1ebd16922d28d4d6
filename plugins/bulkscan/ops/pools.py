"""Create the Airflow pools bulkscan's mapped tasks run in (include/pools.json), keeping existing ones.

Run once per deployment, after `airflow db migrate` (docker-compose's airflow-init, the loopback stack
and scripts/airflow_db.sh do): a pool that is missing is created with the file's slots; a pool an
operator already sized is left as it is, so re-running never undoes a change made in the UI.

    python -m bulkscan.ops.pools            # create the missing ones, list all three
    python -m bulkscan.ops.pools --check    # exit 1 if one is missing (creates nothing)

A task in a pool that does not exist is never scheduled (Airflow shows a DAG warning), which is why
the pools are created here rather than left to the reader of the docs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bulkscan.core.paths import INCLUDE_DIR
from bulkscan.glue.defaults import POOL_MYSQL, POOL_REDIS, POOL_SHARDS

POOLS_FILE = INCLUDE_DIR / "pools.json"


def wanted(path: Path = POOLS_FILE) -> dict[str, dict[str, Any]]:
    """The pools of include/pools.json, renamed as the environment renames them (BULKSCAN_POOL_*)."""
    spec = json.loads(path.read_text())
    rename = {"bulkscan_mysql": POOL_MYSQL, "bulkscan_shards": POOL_SHARDS, "bulkscan_redis": POOL_REDIS}
    return {rename.get(name, name): value for name, value in spec.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bulkscan.ops.pools", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that every pool exists")
    args = parser.parse_args(argv)
    from airflow.models.pool import Pool

    missing = []
    for name, spec in wanted().items():
        pool = Pool.get_pool(name)
        if pool is None and not args.check:
            pool = Pool.create_or_update_pool(
                name, int(spec["slots"]), str(spec["description"]), bool(spec.get("include_deferred", False))
            )
            print(f"pools: created {name} with {spec['slots']} slots")
        if pool is None:
            missing.append(name)
        else:
            print(f"pools: {name} has {pool.slots} slots")
    if missing:
        print(f"pools: missing {', '.join(missing)}: run python -m bulkscan.ops.pools", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
