#!/usr/bin/env bash
# Create .venv from requirements-dev.lock (runtime + tests + benchmarks) on a fresh machine. Installs the MariaDB client
# headers (needed to build mysqlclient) with apt when running as root, otherwise says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] >= (3, 10), sys.version' \
  || { echo "bulkscan needs Python >= 3.10 (found $($PYTHON --version 2>&1))" >&2; exit 1; }

if ! pkg-config --exists mariadb 2>/dev/null && ! pkg-config --exists mysqlclient 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing MariaDB client headers (libmariadb-dev, pkg-config) with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmariadb-dev pkg-config >/dev/null
  else
    echo "bootstrap: missing MariaDB/MySQL client headers: install libmariadb-dev (or libmysqlclient-dev) and pkg-config" >&2
    exit 1
  fi
fi

# docker-compose (Debian's package) only validates docker-compose.yaml in the tests; no engine needed.
if ! command -v docker-compose >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing docker-compose (used by the tests to validate docker-compose.yaml)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
  else
    echo "bootstrap: docker-compose is missing; the compose test will fail (apt-get install docker-compose)" >&2
  fi
fi

if ! command -v uv >/dev/null; then
  echo "bootstrap: installing uv with pip"
  "$PYTHON" -m pip install -q "uv==0.13.9"
fi
[ -x .venv/bin/python ] || uv venv -q -p "$PYTHON" .venv
# --compile-bytecode: the .pyc files pip writes by default (and the Docker image has); uv leaves them out
# unless asked, and with PYTHONDONTWRITEBYTECODE set (as on CI machines) nothing writes them later, so every
# process would compile Airflow, NumPy and pyarrow from source again (`import airflow.sdk` 3.8-5.0 s
# against 1.7-1.8 s compiled, measured side by side).
uv pip sync -q --compile-bytecode -p .venv/bin/python requirements-dev.lock
touch .venv/.installed
echo "bootstrap: .venv ready ($(.venv/bin/airflow version 2>/dev/null | tail -1) Airflow)"
