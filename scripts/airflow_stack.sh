#!/usr/bin/env bash
# A real multi-process Airflow 3 on loopback with the CeleryExecutor, the same settings as
# docker-compose.yaml (docker/airflow.env): PostgreSQL metadata (database bulkscan_airflow_<key id> on
# 127.0.0.1:5432, one per stack home's secrets), Redis broker on its own db index, api-server (auth on), scheduler,
# dag-processor, triggerer and two Celery workers (w1, w2).
#
# Shared nothing, as on separate machines: each worker runs with its own AIRFLOW_HOME, working
# directory and TMPDIR (workers/wN/ in the stack home); what the processes share is what a real
# deployment shares: the metadata database, the broker, MySQL, Redis, and the audit store (the tests
# point the Airflow Variable bulkscan_audit_store at shared-store/, standing in for a bucket).
#
# Task logs, as on separate machines: as root (where `ip netns` works), each worker runs in a network
# namespace of its own (bs<port>w<i>), with its own address (10.<port % 250>.<i>.2) and its own log folder
# (workers/wN/logs), and serves that folder with Airflow's worker log server on the one
# worker_log_server_port, as a worker on its own machine does; the api-server reads a finished task's
# log from the worker that ran it (http://wN:port, wN resolved through lines this script adds to
# /etc/hosts and removes on stop). Loopback stays transparent inside a namespace: connections to
# 127.0.0.1 are forwarded (iptables NAT, route_localnet) to the host's loopback and arrive from
# 127.0.0.1, so every service keeps its loopback-only binding and its localhost grants.
# BULKSCAN_STACK_NETNS=0 (or no root) keeps the older layout: the workers share the host's network and
# one task log folder (logs/tasks), which stands in for remote logging, since two workers on one
# network cannot both serve logs on the one port.
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
# BULKSCAN_STACK_NETNS (auto: 1 as root where `ip netns` works, else 0),
# AIRFLOW_ADMIN_USER / AIRFLOW_ADMIN_PASSWORD (override the generated login).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK_HOME="${BULKSCAN_STACK_HOME:-$ROOT/.airflow-stack}"
RUN="$STACK_HOME/run"
LOGS="$STACK_HOME/logs"
API_PORT="${BULKSCAN_STACK_API_PORT:-28080}"
PG_URL="${BULKSCAN_STACK_PG_URL:-}"  # default: set by load_secrets, a database of this stack's own
WORKERS="${BULKSCAN_STACK_WORKERS:-2}"
CONCURRENCY="${BULKSCAN_STACK_CONCURRENCY:-2}"
TIMEOUT="${BULKSCAN_STACK_TIMEOUT:-240}"
NET_OCTET="$((API_PORT % 250))"
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
  # The metadata holds values encrypted with this stack's fernet key (connections, variables, triggers):
  # a stack home of its own (another checkout, a fresh clone) gets a database of its own, never one whose
  # rows its triggerer cannot decrypt.
  if [ -z "$PG_URL" ]; then
    local key_id
    key_id="$(printf %s "$AIRFLOW_FERNET_KEY" | sha256sum | cut -c1-10)"
    PG_URL="postgresql://postgres@127.0.0.1:5432/bulkscan_airflow_$key_id"
  fi
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

# --- per-worker network namespaces (see the header) ---
netns_wanted() {
  case "${BULKSCAN_STACK_NETNS:-auto}" in
    0|no|false) return 1 ;;
    1|yes|true) return 0 ;;
  esac
  [ "$(id -u)" = 0 ] && command -v ip >/dev/null && command -v iptables >/dev/null || return 1
  ip netns add "bs${API_PORT}probe" 2>/dev/null || return 1
  ip netns del "bs${API_PORT}probe"
}
ns_of() { echo "bs${API_PORT}w$1"; }
host_ip() { echo "10.$NET_OCTET.$1.1"; }
worker_ip() { echo "10.$NET_OCTET.$1.2"; }
HOSTS_MARK="# bulkscan-stack-$API_PORT"

# Loopback of the namespace forwarded to the host's loopback, arriving from 127.0.0.1 (rules in the host's
# nat table match only this worker's veth and subnet; `net_down` deletes exactly them).
host_rules() {
  local i="$1" op="$2" veth="bs${API_PORT}w$1h"
  iptables -t nat "$op" PREROUTING -i "$veth" -j DNAT --to-destination 127.0.0.1 2>/dev/null || [ "$op" = -D ]
  iptables -t nat "$op" INPUT -s "10.$NET_OCTET.$i.0/24" -d 127.0.0.1 -j SNAT --to-source 127.0.0.1 2>/dev/null \
    || [ "$op" = -D ]
}

net_up() {
  local i="$1" ns veth_h veth_n
  ns="$(ns_of "$i")"; veth_h="bs${API_PORT}w${i}h"; veth_n="bs${API_PORT}w${i}n"
  if ! ip netns list | grep -qw "$ns"; then
    ip netns add "$ns"
    ip link add "$veth_h" type veth peer name "$veth_n"
    ip link set "$veth_n" netns "$ns"
    ip addr add "$(host_ip "$i")/24" dev "$veth_h"
    ip link set "$veth_h" up
    sysctl -qw "net.ipv4.conf.$veth_h.route_localnet=1"
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip addr add "$(worker_ip "$i")/24" dev "$veth_n"
    ip netns exec "$ns" ip link set "$veth_n" up
    ip netns exec "$ns" ip route add default via "$(host_ip "$i")"
    ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.route_localnet=1
    ip netns exec "$ns" iptables -t nat -A OUTPUT -d 127.0.0.1 -p tcp -j DNAT --to-destination "$(host_ip "$i")"
    ip netns exec "$ns" iptables -t nat -A POSTROUTING -o "$veth_n" -j MASQUERADE
    host_rules "$i" -D
    host_rules "$i" -A
  fi
  grep -q "w$i $HOSTS_MARK\$" /etc/hosts || echo "$(worker_ip "$i") w$i $HOSTS_MARK" >>/etc/hosts
}

net_down() {
  local i="$1" ns
  ns="$(ns_of "$i")"
  host_rules "$i" -D
  ip netns list | grep -qw "$ns" && ip netns del "$ns"  # its end of the veth pair goes with it
  ip link del "bs${API_PORT}w${i}h" 2>/dev/null || true
  if grep -q "$HOSTS_MARK\$" /etc/hosts; then
    # /etc/hosts may be a bind mount: rewrite it in place, never replace the file
    grep -v "$HOSTS_MARK\$" /etc/hosts >"$RUN/hosts.tmp" || true
    cat "$RUN/hosts.tmp" >/etc/hosts && rm -f "$RUN/hosts.tmp"
  fi
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
  local home netns=0
  if netns_wanted; then netns=1; fi
  echo "$netns" >"$RUN/netns"
  for i in $(seq 1 "$WORKERS"); do
    home="$STACK_HOME/workers/w$i"
    mkdir -p "$home/tmp" "$home/logs"
    if [ "$netns" = 1 ]; then
      alive "worker-w$i" || net_up "$i"
      # its own network (address, log server) and its own log folder, as on a machine of its own
      (cd "$home" && launch "worker-w$i" ip netns exec "$(ns_of "$i")" env BULKSCAN_WORKER_HOSTNAME="w$i" \
        AIRFLOW_HOME="$home" TMPDIR="$home/tmp" AIRFLOW__LOGGING__BASE_LOG_FOLDER="$home/logs" \
        airflow celery worker --celery-hostname "w$i@%h" --concurrency "$CONCURRENCY")
    else
      (cd "$home" && launch "worker-w$i" env BULKSCAN_WORKER_HOSTNAME="w$i" AIRFLOW_HOME="$home" TMPDIR="$home/tmp" \
        airflow celery worker --celery-hostname "w$i@%h" --concurrency "$CONCURRENCY" --skip-serve-logs)
    fi
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
  if [ "$(cat "$RUN/netns" 2>/dev/null)" = 1 ]; then
    for i in $(seq 1 "$WORKERS"); do net_down "$i"; done
    rm -f "$RUN/netns"
  fi
  say "stopped"
}

status() {
  local name rc=0
  for name in $(names); do
    if alive "$name"; then echo "$name: running (pid $(pid_of "$name"))"; else echo "$name: stopped"; rc=3; fi
  done
  echo "api: http://127.0.0.1:$API_PORT  home: $STACK_HOME  workers in network namespaces: $(cat "$RUN/netns" 2>/dev/null || echo 0)"
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
