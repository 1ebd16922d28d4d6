#!/usr/bin/env bash
# Make sure MariaDB and Redis answer on loopback; start them from the installed binaries when
# they do not, and say clearly what is missing when a binary is not installed.
set -uo pipefail
. "$(dirname "$0")/env.sh"
HOST="$BULKSCAN_MYSQL_HOST"; PORT="$BULKSCAN_MYSQL_PORT"; RPORT="$BULKSCAN_REDIS_PORT"

mysql_up() { "$BULKSCAN_ROOT/.venv/bin/python" - "$HOST" "$PORT" <<'PY' 2>/dev/null
import sys, MySQLdb
MySQLdb.connect(host=sys.argv[1], port=int(sys.argv[2]), user="root", connect_timeout=2).close()
PY
}
redis_up() { "$BULKSCAN_ROOT/.venv/bin/python" - "$RPORT" <<'PY' 2>/dev/null
import sys, redis
assert redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), socket_timeout=2).ping()
PY
}
wait_for() { for _ in $(seq 1 60); do "$1" && return 0; sleep 0.5; done; return 1; }

if mysql_up; then echo "services: MariaDB answers on $HOST:$PORT"
else
  if command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ]; then
    echo "services: MariaDB not answering on $HOST:$PORT, starting mariadbd"
    if [ ! -d /var/lib/mysql/mysql ]; then
      mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
    fi
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql --port="$PORT" --bind-address=127.0.0.1 \
      || /usr/sbin/mariadbd --user=mysql --port="$PORT" --bind-address=127.0.0.1 >/tmp/bulkscan-mariadb.log 2>&1 &
    wait_for mysql_up || { echo "services: MariaDB did not come up on $HOST:$PORT" >&2; exit 1; }
    echo "services: MariaDB started"
  else
    echo "services: MariaDB is not running on $HOST:$PORT and mariadbd is not installed (apt-get install mariadb-server)" >&2; exit 1
  fi
fi
if redis_up; then echo "services: Redis answers on 127.0.0.1:$RPORT"
else
  if command -v redis-server >/dev/null; then
    echo "services: Redis not answering on 127.0.0.1:$RPORT, starting redis-server"
    mkdir -p /tmp/bulkscan-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port "$RPORT" --save "" --appendonly no --dir /tmp/bulkscan-redis --logfile /tmp/bulkscan-redis/redis.log
    wait_for redis_up || { echo "services: Redis did not come up on 127.0.0.1:$RPORT" >&2; exit 1; }
    echo "services: Redis started"
  else
    echo "services: Redis is not running on 127.0.0.1:$RPORT and redis-server is not installed (apt-get install redis-server)" >&2; exit 1
  fi
fi
