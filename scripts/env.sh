# Sourced by every bulkscan script: a project-local Airflow on SQLite metadata,
# the project's dags/ and plugins/, and the demo connection from the environment.
# Nothing secret lives here: the demo MariaDB is root with an empty password on loopback,
# exactly as a fresh development machine has it. Override any of these from outside.
BULKSCAN_ROOT="${BULKSCAN_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export BULKSCAN_ROOT
export PATH="$BULKSCAN_ROOT/.venv/bin:$PATH"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$BULKSCAN_ROOT/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$BULKSCAN_ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$BULKSCAN_ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-True}"
export AIRFLOW__LOGGING__LOGGING_LEVEL="${AIRFLOW__LOGGING__LOGGING_LEVEL:-WARNING}"
export PYTHONPATH="$BULKSCAN_ROOT/plugins:$BULKSCAN_ROOT${PYTHONPATH:+:$PYTHONPATH}"
export BULKSCAN_MYSQL_HOST="${BULKSCAN_MYSQL_HOST:-127.0.0.1}"
export BULKSCAN_MYSQL_PORT="${BULKSCAN_MYSQL_PORT:-3306}"
export BULKSCAN_REDIS_PORT="${BULKSCAN_REDIS_PORT:-6379}"
export AIRFLOW_CONN_BULKSCAN_MYSQL="${AIRFLOW_CONN_BULKSCAN_MYSQL:-mysql://root@${BULKSCAN_MYSQL_HOST}:${BULKSCAN_MYSQL_PORT}/bulkscan_demo}"
export AIRFLOW_CONN_BULKSCAN_REDIS="${AIRFLOW_CONN_BULKSCAN_REDIS:-redis://127.0.0.1:${BULKSCAN_REDIS_PORT}/0}"
