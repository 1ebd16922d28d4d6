"""docker-compose.yaml is valid and wires one CeleryExecutor stack with shared secrets.

No Docker engine is needed: `docker-compose config` resolves and validates the file, and the
resolved YAML is checked structurally. The secrets come from a throw-away env file written here,
so a value seen in the output can only have got there by interpolation from the environment.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yaml"
SHARED_ENV = ROOT / "docker" / "airflow.env"
AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
REQUIRED_SERVICES = AIRFLOW_SERVICES | {"postgres", "redis", "mysql", "bulkscan-seed"}
SECRET_VARS = (
    "AIRFLOW_ADMIN_PASSWORD",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_API_SECRET_KEY",
    "AIRFLOW_FERNET_KEY",
    "POSTGRES_PASSWORD",
    "MYSQL_ROOT_PASSWORD",
    "BULKSCAN_MYSQL_PASSWORD",
)
SECRET_KEY_RE = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|(^|_)KEY$")
INTERPOLATED_RE = re.compile(r"^\$\{[A-Z0-9_]+:\?[^}]*\}$")
URI_PASSWORD_RE = re.compile(r"://[^:/@\s]+:([^@\s]+)@")


def _docker_compose() -> str:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail(
            "docker-compose is not installed, so docker-compose.yaml cannot be validated: "
            "run scripts/bootstrap.sh (it installs the Debian package) or `apt-get install docker-compose`"
        )
    return exe


def _secrets() -> dict[str, str]:
    values = {name: f"test-{name.lower()}-{secrets.token_hex(8)}" for name in SECRET_VARS}
    values["AIRFLOW_ADMIN_USER"] = "opsadmin"
    values["AIRFLOW_UID"] = "1234"
    return values


def _run_config(tmp_path: Path, values: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    # A clean environment: nothing from the caller's shell may fill in a missing variable.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    return subprocess.run(
        [_docker_compose(), "-f", str(COMPOSE), "--env-file", str(env_file), "config"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def resolved(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, Any], dict[str, str]]:
    values = _secrets()
    proc = _run_config(tmp_path_factory.mktemp("compose"), values)
    assert proc.returncode == 0, f"docker-compose config failed:\n{proc.stderr}"
    return yaml.safe_load(proc.stdout), values


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def test_every_required_service_is_defined(
    resolved: tuple[dict[str, Any], dict[str, str]],
) -> None:
    config, _ = resolved
    assert set(config["services"]) >= REQUIRED_SERVICES
    assert config["services"]["mysql"]["image"].startswith("mariadb:10.11")
    # bulkscan's own results schema is created and granted when MariaDB first initialises.
    mysql_volumes = config["services"]["mysql"]["volumes"]
    init_mount = [v for v in mysql_volumes if "/docker-entrypoint-initdb.d" in str(v)]
    assert init_mount and (ROOT / "docker" / "mysql-init" / "10-bulkscan-schema.sql").exists()
    seed = config["services"]["bulkscan-seed"]
    assert seed["entrypoint"] == ["python", "-m", "devtools.demo.seed"]
    seed_mounts = {
        (v.split(":")[1] if isinstance(v, str) else v["target"]): (
            v.split(":")[0] if isinstance(v, str) else v["source"]
        )
        for v in seed["volumes"]
    }
    assert Path(seed_mounts["/opt/airflow/devtools"]) == ROOT / "devtools"  # the demo helpers, for the seed only
    assert seed["restart"] == "no"


def test_airflow_services_share_secrets_and_executor(
    resolved: tuple[dict[str, Any], dict[str, str]],
) -> None:
    config, values = resolved
    for name in AIRFLOW_SERVICES:
        env = _env(config["services"][name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == values["AIRFLOW_JWT_SECRET"], name
        assert env["AIRFLOW__API__SECRET_KEY"] == values["AIRFLOW_API_SECRET_KEY"], name
        assert env["AIRFLOW__CORE__FERNET_KEY"] == values["AIRFLOW_FERNET_KEY"], name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert values["POSTGRES_PASSWORD"] in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        assert values["BULKSCAN_MYSQL_PASSWORD"] in env["AIRFLOW_CONN_BULKSCAN_MYSQL"], name
        assert env["AIRFLOW_CONN_BULKSCAN_REDIS"].startswith("redis://redis:6379/"), name
    # The metadata database password is the one postgres itself is started with.
    assert _env(config["services"]["postgres"])["POSTGRES_PASSWORD"] == values["POSTGRES_PASSWORD"]
    assert _env(config["services"]["mysql"])["MARIADB_PASSWORD"] == values["BULKSCAN_MYSQL_PASSWORD"]


def test_api_server_keeps_auth_on_and_stays_on_loopback(
    resolved: tuple[dict[str, Any], dict[str, str]],
) -> None:
    config, values = resolved
    api = config["services"]["airflow-apiserver"]
    env = _env(api)
    assert api["command"] in ("api-server", ["api-server"])
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("SimpleAuthManager")
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"].lower() == "false"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "opsadmin:admin"
    init_env = _env(config["services"]["airflow-init"])
    assert init_env["AIRFLOW_ADMIN_PASSWORD"] == values["AIRFLOW_ADMIN_PASSWORD"]
    # Only the api-server publishes a port, and only on the host's loopback.
    published = {n: s.get("ports") for n, s in config["services"].items() if s.get("ports")}
    assert set(published) == {"airflow-apiserver"}
    for port in published["airflow-apiserver"]:
        text = port if isinstance(port, str) else f"{port.get('host_ip')}:{port.get('published')}"
        assert text.startswith("127.0.0.1:"), port


def test_broker_uses_its_own_redis_db(
    resolved: tuple[dict[str, Any], dict[str, str]],
) -> None:
    config, _ = resolved
    shared = dict(line.split("=", 1) for line in SHARED_ENV.read_text().splitlines() if line and line[0] != "#")
    for name in AIRFLOW_SERVICES:
        env = _env(config["services"][name])
        broker_db = env["AIRFLOW__CELERY__BROKER_URL"].rsplit("/", 1)[1]
        data_db = env["AIRFLOW_CONN_BULKSCAN_REDIS"].rsplit("/", 1)[1]
        assert broker_db == shared["BULKSCAN_BROKER_REDIS_DB"] != data_db, name


def test_airflow_services_mount_the_project(
    resolved: tuple[dict[str, Any], dict[str, str]],
) -> None:
    config, _ = resolved
    for name in AIRFLOW_SERVICES | {"bulkscan-seed"}:
        mounts = {}
        for vol in config["services"][name]["volumes"]:
            source, target = (vol.split(":")[:2]) if isinstance(vol, str) else (vol["source"], vol["target"])
            mounts[target] = source
        for folder in ("dags", "plugins", "include"):
            assert Path(mounts[f"/opt/airflow/{folder}"]) == ROOT / folder, (
                name,
                folder,
            )


def test_a_missing_secret_stops_compose(tmp_path: Path) -> None:
    for name in ("AIRFLOW_JWT_SECRET", "AIRFLOW_FERNET_KEY", "AIRFLOW_ADMIN_PASSWORD"):
        values = _secrets()
        values[name] = ""
        proc = _run_config(tmp_path, values)
        assert proc.returncode != 0, name
        assert "set it in .env" in proc.stderr, proc.stderr


def _walk_env(node: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "environment" and isinstance(value, dict):
                found += [(str(k), str(v)) for k, v in value.items() if k != "<<"]
            found += _walk_env(value)
    elif isinstance(node, list):
        for item in node:
            found += _walk_env(item)
    return found


def test_no_secret_is_hard_coded() -> None:
    raw = yaml.safe_load(COMPOSE.read_text())
    pairs = _walk_env(raw)
    assert pairs, "no environment found in docker-compose.yaml"
    for key, value in pairs:
        if SECRET_KEY_RE.search(key) and not key.endswith("_FILE"):
            assert INTERPOLATED_RE.match(value), f"{key} must come from .env as ${{VAR:?...}}, not {value!r}"
        for password in URI_PASSWORD_RE.findall(value):
            assert INTERPOLATED_RE.match(password), f"{key} has a literal password in its URI"
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text().split()
    # The shared settings file is not a place for secrets either, and bash and compose read it alike.
    for line in SHARED_ENV.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", key) and re.fullmatch(r"[^\s'\"$]*", value), line
            assert not SECRET_KEY_RE.search(key), line
