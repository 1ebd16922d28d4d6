"""Shared test set-up: a project-local Airflow (SQLite metadata) and real loopback services.

The environment is set before anything imports Airflow, so `pytest` works the same whether it is
started by `make test` or by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".airflow-test"))
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
# Retries in tests wait one second, not the production back-off.
os.environ.setdefault("BULKSCAN_RETRY_DELAY_SECONDS", "1")
# Test processors live in tests/; production allows only bulkscan's own and `processors.`.
os.environ.setdefault("BULKSCAN_PROCESSOR_PREFIXES", "bulkscan.,processors.,tests.")
for p in (str(ROOT / "plugins"), str(ROOT)):
    if p not in sys.path:
        sys.path.insert(0, p)

MYSQL_HOST = os.environ.get("BULKSCAN_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("BULKSCAN_MYSQL_PORT", "3306"))


def _ensure_airflow_db() -> None:
    home = Path(os.environ["AIRFLOW_HOME"])
    if not (home / "airflow.db").exists():
        home.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            stdout=subprocess.DEVNULL,
        )


def pytest_sessionstart(session: pytest.Session) -> None:
    _ensure_airflow_db()


TIERS = ("integration", "dagrun", "stack")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests are grouped by job (tests/<job>/) and by shared part; the tier is a marker. A test that
    talks to no service (no integration, dagrun or stack marker) is a `unit` test: `pytest -m unit`."""
    for item in items:
        if not any(item.get_closest_marker(tier) for tier in TIERS):
            item.add_marker(pytest.mark.unit)


@pytest.fixture(scope="session")
def mysql_root() -> Callable[..., object]:
    """Factory of root connections to the loopback MariaDB (fails loudly if it is down)."""
    import MySQLdb

    from bulkscan.mysqldb.connect import direct

    def connect(db: str | None = None, **kw: object) -> MySQLdb.Connection:
        return direct(MYSQL_HOST, MYSQL_PORT, database=db, **{"connect_timeout": 5, **kw})()

    try:
        connect().close()
    except MySQLdb.OperationalError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"MariaDB is not reachable on {MYSQL_HOST}:{MYSQL_PORT}: {exc} (run `make services`)")
    return connect


@pytest.fixture
def fresh_database(mysql_root: Callable[..., object]) -> Iterator[Callable[[str], str]]:
    """Create empty databases for one test and drop them afterwards."""
    made: list[str] = []

    def make(name: str) -> str:
        conn = mysql_root()
        cur = conn.cursor()  # type: ignore[attr-defined]
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}`")
        conn.close()  # type: ignore[attr-defined]
        made.append(name)
        return name

    yield make
    conn = mysql_root()
    for name in made:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")  # type: ignore[attr-defined]
    conn.close()  # type: ignore[attr-defined]
