#!/usr/bin/env bash
# Create (or upgrade) the project-local SQLite metadata database once.
set -euo pipefail
. "$(dirname "$0")/env.sh"
mkdir -p "$AIRFLOW_HOME"
if [ ! -f "$AIRFLOW_HOME/airflow.db" ] || [ "${1:-}" = "--force" ]; then
  airflow db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || { tail -20 "$AIRFLOW_HOME/db-migrate.log" >&2; exit 1; }
fi
# The pools of bulkscan's mapped tasks (include/pools.json): missing ones created, existing ones kept.
python -m bulkscan.ops.pools --check >/dev/null 2>&1 || python -m bulkscan.ops.pools >/dev/null
