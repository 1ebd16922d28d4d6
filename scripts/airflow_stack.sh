#!/usr/bin/env bash
# A real multi-process Airflow 3 on loopback with the CeleryExecutor, the same settings as
# docker-compose.yaml (docker/airflow.env): PostgreSQL metadata (database bulkscan_airflow on
# 127.0.0.1:5432), Redis broker on its own db index, api-server (auth on), scheduler,
# dag-processor, triggerer and two Celery workers (w1, w2).
#
# Shared nothing, as on separate machines: each worker runs with its own AIRFLOW_HOME, working
# directory and TMPDIR (workers/wN/ in the stack home); what the processes share is what a real
# deployment shares: the metadata database, the broker, MySQL, Redis, and the audit store (the tests
# point the Airflow Variable bulkscan_audit_store at shared-store/, standing in for a bucket). Task
# logs go to one folder all processes see (logs/tasks), standing in for remote logging: two workers
# on one machine cannot each serve their logs on the one worker_log_server_port.
#
#   scripts/airflow_stack.sh start|stop|status|restart
#   scripts/airflow_stack.sh cli ARGS...   the airflow CLI against this stack (e.g. backfill create ...)
#
# Everything lives in the stack home (BULKSCAN_STACK_HOME, default .airflow-stack/): pids in run/,
# one log per process in logs/, the generated secrets in secrets.env (JWT secret, fernet key, admin
# password; created at first start, mode 600, never committed). Every wait is bounded.
# Environment knobs: BULKSCAN_STACK_API_PORT (28080), BULKSCAN_STACK_PG_URL, BULKSCAN_STACK_WORKERS (2),
# BULKSCAN_STACK_CONCURRENCY (2 per worker), BULKSCAN_STACK_TIMEOUT (start wait, 240 s),
# BULKSCAN_STACK_EXTRA_DAGS (an extra dags folder, added as a second dag bundle, used by tests),
# AIRFLOW_ADMIN_USER / AIRFLOW_ADMIN_PASSWORD (override the generated login).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK_HOME="${BULKSCAN_STACK_HOME:-$ROOT/.airflow-stack}"
RUN="$STACK_HOME/run"
LOGS="$STACK_HOME/logs"
API_PORT="${BULKSCAN_STACK_API_PORT:-28080}"
PG_URL="${BULKSCAN_STACK_PG_URL:-postgresql://postgres@127.0.0.1:5432/bulkscan_airflow}"
WORKERS="${BULKSCAN_STACK_WORKERS:-2}"
CONCURRENCY="${BULKSCAN_STACK_CONCURRENCY:-2}"
TIMEOUT="${BULKSCAN_STACK_TIMEOUT:-240}"
ENV_USER="${AIRFLOW_ADMIN_USER:-}"
ENV_PASSWORD="${AIRFLOW_ADMIN_PASSWORD:-}"

export AIRFLOW_HOME="$STACK_HOME"
# shellcheck source=env.sh
. "$ROOT/scripts/env.sh"
# The settings the docker-compose stack uses, read from the very same file.
set -a
# shellcheck disable=SC1091
. "$ROOT/docker/airflow.env"
set +a

say() { echo "airflow-stack: $*"; }
die() { echo "airflow-stack: $*" >&2; exit 1; }

load_secrets() {
  mkdir -p "$STACK_HOME" "$RUN" "$LOGS"
  if [ ! -s "$STACK_HOME/secrets.env" ]; then
    (umask 077 && "$ROOT/docker/make_env.sh" >"$STACK_HOME/secrets.env.tmp" && mv "$STACK_HOME/secrets.env.tmp" "$STACK_HOME/secrets.env")
    say "generated secrets into $STACK_HOME/secrets.env"
  fi
  set -a
  # shellcheck disable=SC1091
  . "$STACK_HOME/secrets.env"
  set +a
  AIRFLOW_ADMIN_USER="${ENV_USER:-$AIRFLOW_ADMIN_USER}"
  AIRFLOW_ADMIN_PASSWORD="${ENV_PASSWORD:-$AIRFLOW_ADMIN_PASSWORD}"
  export AIRFLOW__API_AUTH__JWT_SECRET="$AIRFLOW_JWT_SECRET"
  export AIRFLOW__API__SECRET_KEY="$AIRFLOW_API_SECRET_KEY"
  export AIRFLOW__CORE__FERNET_KEY="$AIRFLOW_FERNET_KEY"
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="$AIRFLOW_ADMIN_USER:admin"
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$STACK_HOME/passwords.json"
}

configure() {
  load_secrets
  local pg_driver_url="${PG_URL/postgresql:\/\//postgresql+psycopg2://}"
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$pg_driver_url"
  # SQLAlchemy 2.1 defaults postgresql:// to psycopg 3: name the installed driver explicitly.
  export AIRFLOW__CELERY__RESULT_BACKEND="db+$pg_driver_url"
  export AIRFLOW__CELERY__BROKER_URL="redis://127.0.0.1:${BULKSCAN_REDIS_PORT}/${BULKSCAN_BROKER_REDIS_DB}"
  export AIRFLOW__API__HOST=127.0.0.1
  export AIRFLOW__API__PORT="$API_PORT"
  export AIRFLOW__API__BASE_URL="http://127.0.0.1:$API_PORT"
  export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$API_PORT/execution/"
  export AIRFLOW__LOGGING__BASE_LOG_FOLDER="$LOGS/tasks"
  # Own ports, so the stack never collides with another Airflow on this machine.
  export AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT="$((API_PORT + 1))"
  export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="$((API_PORT + 2))"
  export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="$((API_PORT + 3))"
  # Each worker reports its own name as the task instance hostname (two workers share one FQDN).
  export AIRFLOW__CORE__HOSTNAME_CALLABLE=bulkscan.ops.hostname.worker_hostname
  local bundles='{"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {"path": "'"$AIRFLOW__CORE__DAGS_FOLDER"'"}}'
  if [ -n "${BULKSCAN_STACK_EXTRA_DAGS:-}" ]; then
    bundles+=', {"name": "stack-extra", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {"path": "'"$BULKSCAN_STACK_EXTRA_DAGS"'", "refresh_interval": 5}}'
  fi
  export AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST="[$bundles]"
}

names() { echo api-server scheduler dag-processor triggerer; for i in $(seq 1 "$WORKERS"); do echo "worker-w$i"; done; }
pid_of() { [ -f "$RUN/$1.pid" ] && cat "$RUN/$1.pid"; }
alive() { local pid; pid="$(pid_of "$1" 2>/dev/null)" && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

# Each process gets its own session (setsid), so stop can end it and its children by process group.
launch() {
  local name="$1"; shift
  if alive "$name"; then say "$name already running (pid $(pid_of "$name"))"; return; fi
  setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

prepare_db() {
  # Airflow 3 opens an async engine on the metadata DB too: asyncpg for PostgreSQL.
  "$ROOT/.venv/bin/python" -c "import asyncpg, psycopg2" 2>/dev/null \
    || die "the PostgreSQL drivers psycopg2 and asyncpg must be in .venv (uv pip install -p .venv/bin/python asyncpg psycopg2-binary)"
  "$ROOT/.venv/bin/python" - "$PG_URL" <<'PY' || die "PostgreSQL is not reachable at $PG_URL"
import sys
from urllib.parse import urlsplit
import psycopg2
from psycopg2 import sql
url = urlsplit(sys.argv[1])
conn = psycopg2.connect(host=url.hostname, port=url.port or 5432, user=url.username,
                        password=url.password, dbname="postgres", connect_timeout=5)
conn.autocommit = True
cur = conn.cursor()
name = url.path.lstrip("/")
cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
if cur.fetchone() is None:
    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    print(f"airflow-stack: created database {name}")
PY
  airflow db migrate >"$LOGS/db-migrate.log" 2>&1 || { tail -20 "$LOGS/db-migrate.log" >&2; die "airflow db migrate failed"; }
  "$ROOT/.venv/bin/python" -m bulkscan.ops.pools >"$LOGS/pools.log" 2>&1 || { cat "$LOGS/pools.log" >&2; die "pools"; }
}

write_passwords() {
  (umask 077 && printf '{"%s": "%s"}\n' "$AIRFLOW_ADMIN_USER" "$AIRFLOW_ADMIN_PASSWORD" >"$STACK_HOME/passwords.json")
}

http_ok() { curl -fsS -o /dev/null --max-time 3 "$1" 2>/dev/null; }

wait_ready() {
  local deadline=$((SECONDS + TIMEOUT)) name pending
  while :; do
    pending=""
    for name in $(names); do
      alive "$name" || { tail -30 "$LOGS/$name.log" >&2; say "$name exited during start (log: $LOGS/$name.log)"; return 1; }
    done
    http_ok "http://127.0.0.1:$API_PORT/api/v2/monitor/health" || pending+=" api-server"
    http_ok "http://127.0.0.1:$AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT/health" || pending+=" scheduler"
    for i in $(seq 1 "$WORKERS"); do
      grep -q "w$i@.* ready\." "$LOGS/worker-w$i.log" 2>/dev/null || pending+=" worker-w$i"
    done
    [ -z "$pending" ] && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then say "not ready after ${TIMEOUT}s:$pending (logs in $LOGS)"; return 1; fi
    sleep 2
  done
}

start() {
  configure
  if [ -z "$(running)" ]; then
    # A new stack starts with an empty broker queue (its own db index; bulkscan data is in db 0).
    redis-cli -p "$BULKSCAN_REDIS_PORT" -n "$BULKSCAN_BROKER_REDIS_DB" flushdb >/dev/null \
      || die "Redis is not reachable on 127.0.0.1:$BULKSCAN_REDIS_PORT"
  fi
  prepare_db
  write_passwords
  launch api-server airflow api-server --host 127.0.0.1 --port "$API_PORT" --workers 1
  launch scheduler airflow scheduler
  launch dag-processor airflow dag-processor
  launch triggerer airflow triggerer
  local home
  for i in $(seq 1 "$WORKERS"); do
    home="$STACK_HOME/workers/w$i"
    mkdir -p "$home/tmp"
    (cd "$home" && launch "worker-w$i" env BULKSCAN_WORKER_HOSTNAME="w$i" AIRFLOW_HOME="$home" TMPDIR="$home/tmp" \
      airflow celery worker --celery-hostname "w$i@%h" --concurrency "$CONCURRENCY" --skip-serve-logs)
  done
  wait_ready || { stop; exit 1; }
  say "up: http://127.0.0.1:$API_PORT (user $AIRFLOW_ADMIN_USER, password in $STACK_HOME/passwords.json)"
}

running() { local n; for n in $(names); do alive "$n" && echo "$n"; done; return 0; }

stop() {
  local name pid deadline
  for name in $(names); do
    pid="$(pid_of "$name" 2>/dev/null)" || continue
    if kill -0 "$pid" 2>/dev/null; then kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; fi
  done
  deadline=$((SECONDS + ${BULKSCAN_STACK_STOP_TIMEOUT:-30}))
  for name in $(names); do
    pid="$(pid_of "$name" 2>/dev/null)" || continue
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null || kill -0 -- "-$pid" 2>/dev/null; then
      say "$name (pid $pid) did not stop in time, sending SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN/$name.pid"
  done
  say "stopped"
}

status() {
  local name rc=0
  for name in $(names); do
    if alive "$name"; then echo "$name: running (pid $(pid_of "$name"))"; else echo "$name: stopped"; rc=3; fi
  done
  echo "api: http://127.0.0.1:$API_PORT  home: $STACK_HOME"
  return "$rc"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  cli) shift; configure; exec airflow "$@" ;;
  *) echo "usage: $0 {start|stop|status|restart|cli ARGS...}" >&2; exit 2 ;;
esac
