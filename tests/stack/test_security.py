"""Security on the loopback stack: a least-privilege MySQL user, auth always on, secrets only from env.

The user gets exactly the GRANTs of docs/security.md: SELECT on the source schema, ALL only on
bulkscan's own results schema. A scan through that user's Airflow connection is exact; every write
outside the results schema is refused by the server (and a scan pointed at the source schema for its
results fails without creating anything there).
"""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import MySQLdb
import pytest

from bulkscan.ops.api import AirflowApi
from tests.stack import scenarios as sn
from tests.stack import stackctl as sc

pytestmark = [pytest.mark.stack, pytest.mark.integration]

SOURCE = "bs_fault_lp"
RESULTS = "bs_fault_lp_results"
HOST = "127.0.0.1"  # the host part of the account: where the workers connect from
GRANTS = [  # the statements of docs/security.md, for this test's schema names
    f"CREATE USER '{sc.LP_USER}'@'{HOST}' IDENTIFIED BY %s",
    f"GRANT SELECT ON `{SOURCE}`.* TO '{sc.LP_USER}'@'{HOST}'",
    f"GRANT ALL PRIVILEGES ON `{RESULTS}`.* TO '{sc.LP_USER}'@'{HOST}'",
]


@pytest.fixture(scope="module")
def lp_user() -> Iterator[None]:
    sn.ensure_events(SOURCE)
    cur = sn.mysql().cursor()
    cur.execute(f"DROP DATABASE IF EXISTS `{RESULTS}`")
    cur.execute(f"DROP USER IF EXISTS '{sc.LP_USER}'@'{HOST}'")
    cur.execute(GRANTS[0], (sc.LP_PASSWORD,))
    for grant in GRANTS[1:]:
        cur.execute(grant)
    try:
        yield
    finally:
        cur.execute(f"DROP USER IF EXISTS '{sc.LP_USER}'@'{HOST}'")
        cur.execute(f"DROP DATABASE IF EXISTS `{RESULTS}`")


def as_user(db: str = SOURCE) -> Any:
    return MySQLdb.connect(host=HOST, port=sc.MYSQL_PORT, user=sc.LP_USER, password=sc.LP_PASSWORD,
                           database=db, autocommit=True)  # fmt: skip


def tables(schema: str) -> set[str]:
    cur = sn.mysql().cursor()
    cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))
    return {t for (t,) in cur.fetchall()}


def test_scan_as_least_privilege_user_is_exact(api: AirflowApi, lp_user: None) -> None:
    run_id = sc.trigger(api, sn.SCAN, sn.scan_conf("bs_fault_lp", RESULTS))
    assert sc.finished(api, sn.SCAN, run_id) == "success"
    tally = sn.scan_tally(SOURCE, RESULTS, run_id)
    assert (tally.lost, tally.doubled) == (0, 0), tally.notes
    assert tables(SOURCE) == {"events"}


def test_writes_outside_bulkscan_tables_are_refused(api: AirflowApi, lp_user: None) -> None:
    checksum = sn.source_checksum(SOURCE)
    cur = as_user().cursor()
    refused = [
        f"INSERT INTO `{SOURCE}`.events (user_id, amount) VALUES (1, 1)",
        f"UPDATE `{SOURCE}`.events SET amount = amount + 1 WHERE id < 10",
        f"DELETE FROM `{SOURCE}`.events WHERE id < 10",
        f"CREATE TABLE `{SOURCE}`.bulkscan_result (x INT)",
        f"DROP TABLE `{SOURCE}`.events",
        "CREATE DATABASE bs_fault_lp_elsewhere",
        "CREATE TABLE mysql.bulkscan_x (x INT)",
    ]
    for statement in refused:
        with pytest.raises(MySQLdb.OperationalError) as err:
            cur.execute(statement)
        assert err.value.args[0] in (1044, 1142), (statement, err.value)  # access denied (db / table)
    # Pointing the results at the source schema: the run fails, nothing is created or changed there.
    run_id = sc.trigger(api, sn.SCAN, sn.scan_conf("bs_fault_lp", SOURCE))
    assert sc.finished(api, sn.SCAN, run_id) == "failed"
    plan = sc.task_instances(api, sn.SCAN, run_id)[("plan", -1)]
    assert "denied" in sc.task_log(api, sn.SCAN, run_id, "plan", plan["try_number"]).lower()
    assert tables(SOURCE) == {"events"}
    assert sn.source_checksum(SOURCE) == checksum


def test_api_refuses_anonymous_and_wrong_password(api: AirflowApi) -> None:
    for path in ("/api/v2/dags", f"/api/v2/dags/{sn.SCAN}/dagRuns"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(sc.api_client().creds.url + path, timeout=10)
        assert err.value.code in (401, 403), path
    req = urllib.request.Request(
        sc.api_client().creds.url + "/auth/token",
        data=b'{"username": "admin", "password": "not-the-password"}',
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code in (400, 401, 403)


def test_api_server_runs_with_auth_and_secrets_only_from_env(api: AirflowApi) -> None:
    # The processes retitle themselves (setproctitle), so /proc/<pid>/environ is not readable evidence:
    # check the one settings file the stack script sources, and that the script never overrides it.
    env = dict(
        line.split("=", 1) for line in (sc.ROOT / "docker" / "airflow.env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )  # fmt: skip
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("SimpleAuthManager")
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"].lower() == "false"
    script = sc.SCRIPT.read_text()
    assert "ALL_ADMINS" not in script and "AUTH_MANAGER=" not in script.replace("SIMPLE_AUTH_MANAGER_", "")
    secrets_file = sc.STACK_HOME / "secrets.env"
    assert secrets_file.stat().st_mode & 0o077 == 0, "secrets.env must be readable by its owner only"
    values = [line.split("=", 1)[1].strip() for line in secrets_file.read_text().splitlines() if "=" in line]
    secret_values = [v for v in values if len(v) >= 16]
    assert secret_values and 'AIRFLOW__API_AUTH__JWT_SECRET="$AIRFLOW_JWT_SECRET"' in script
    for value in secret_values:  # none of the generated secrets is in any file git tracks
        found = subprocess.run(["git", "grep", "-F", "-l", value], cwd=sc.ROOT, capture_output=True, text=True)
        assert found.stdout == "", f"a secret is committed in {found.stdout}"
