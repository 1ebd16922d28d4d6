#!/usr/bin/env bash
# A SECOND MariaDB server on loopback (default 127.0.0.1:3307) with its own data directory under /tmp,
# so shard tests and benchmarks have tables really living on two hosts. Idempotent:
#   scripts/mysql2.sh start|stop|status|restart   (env BULKSCAN_MYSQL2_PORT, BULKSCAN_MYSQL2_DIR)
# BULKSCAN_MYSQL2_OPTS: extra mariadbd options, appended last (e.g. a bigger buffer pool for a bench).
# `stop` keeps the data directory (a restarted host still has its tables); `destroy` removes it.
set -uo pipefail
PORT="${BULKSCAN_MYSQL2_PORT:-3307}"
BASE="${BULKSCAN_MYSQL2_DIR:-/tmp/bulkscan-mysql2-$PORT}"
DATA="$BASE/data"; SOCK="$BASE/mysqld.sock"; PIDF="$BASE/mysqld.pid"; LOG="$BASE/mysqld.log"
MARIADBD="$(command -v mariadbd || echo /usr/sbin/mariadbd)"
RUN_AS="$(id -u)"; [ "$RUN_AS" = 0 ] && RUN_AS=mysql || RUN_AS="$(id -un)"

up() { mariadb-admin --protocol=tcp -h 127.0.0.1 -P "$PORT" -u root --connect-timeout=2 ping >/dev/null 2>&1; }
pid() { [ -f "$PIDF" ] && cat "$PIDF" 2>/dev/null; }

start() {
  if up; then echo "mysql2: MariaDB answers on 127.0.0.1:$PORT"; return 0; fi
  [ -x "$MARIADBD" ] || { echo "mysql2: mariadbd not installed (apt-get install mariadb-server)" >&2; return 1; }
  mkdir -p "$BASE"
  if [ ! -d "$DATA/mysql" ]; then
    mariadb-install-db --no-defaults --user="$RUN_AS" --datadir="$DATA" \
      --auth-root-authentication-method=normal --skip-test-db >"$BASE/install.log" 2>&1 \
      || { tail -20 "$BASE/install.log" >&2; return 1; }
  fi
  [ "$(id -u)" = 0 ] && chown -R mysql:mysql "$BASE"
  "$MARIADBD" --no-defaults --user="$RUN_AS" --datadir="$DATA" --port="$PORT" --bind-address=127.0.0.1 \
    --socket="$SOCK" --pid-file="$PIDF" --log-error="$LOG" --skip-name-resolve \
    --innodb-buffer-pool-size=256M --max-connections=300 ${BULKSCAN_MYSQL2_OPTS:-} >/dev/null 2>&1 &
  for _ in $(seq 1 120); do up && { echo "mysql2: MariaDB started on 127.0.0.1:$PORT ($DATA)"; return 0; }; sleep 0.25; done
  echo "mysql2: MariaDB did not come up on 127.0.0.1:$PORT; see $LOG" >&2; tail -20 "$LOG" >&2; return 1
}

stop() {
  local p; p="$(pid)"
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill "$p"
    for _ in $(seq 1 120); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$p" 2>/dev/null && kill -9 "$p"
    echo "mysql2: stopped 127.0.0.1:$PORT"
  elif up; then
    echo "mysql2: something answers on $PORT but it was not started by this script; leaving it" >&2; return 1
  else
    echo "mysql2: not running on 127.0.0.1:$PORT"
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if up; then echo "mysql2: up on 127.0.0.1:$PORT"; else echo "mysql2: down on 127.0.0.1:$PORT"; exit 3; fi ;;
  destroy) stop; rm -rf "$BASE"; echo "mysql2: removed $BASE" ;;
  *) echo "usage: $0 start|stop|restart|status|destroy" >&2; exit 2 ;;
esac
