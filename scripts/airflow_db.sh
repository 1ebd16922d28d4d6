#!/usr/bin/env bash
# Create (or upgrade) the project-local SQLite metadata database once.
set -euo pipefail
. "$(dirname "$0")/env.sh"
mkdir -p "$AIRFLOW_HOME"
# A stamp written after a migrate that succeeded, not the database file alone: anything that opens Airflow
# before this script ran (a benchmark started by hand) leaves an empty airflow.db behind.
if [ ! -f "$AIRFLOW_HOME/airflow.db" ] || [ ! -f "$AIRFLOW_HOME/.db-migrated" ] || [ "${1:-}" = "--force" ]; then
  airflow db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || { tail -20 "$AIRFLOW_HOME/db-migrate.log" >&2; exit 1; }
  touch "$AIRFLOW_HOME/.db-migrated"
fi
# The pools of bulkscan's mapped tasks (include/pools.json): missing ones created, existing ones kept.
python -m bulkscan.ops.pools --check >/dev/null 2>&1 || python -m bulkscan.ops.pools >/dev/null
