"""Airflow's plugin manager imports every .py under plugins/ as a top-level module named after the
file, unless plugins/.airflowignore says otherwise. bulkscan lives under plugins/ as a package, so its
modules must be imported once, as `bulkscan.*`, never again as bare `topology`, `tasks`, `connect`..."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "plugins" / "bulkscan"

LOAD_LIKE_THE_SCHEDULER = """
import json, sys
from airflow import plugins_manager
plugins_manager.ensure_plugins_loaded()
package = sys.argv[1]
bare = sorted(  # a module of the package under a name that is not bulkscan.*
    name for name, mod in list(sys.modules.items())
    if name.split(".")[0] != "bulkscan" and (getattr(mod, "__file__", None) or "").startswith(package + "/")
)
print(json.dumps({"bare": bare, "errors": plugins_manager.get_import_errors()}))
"""


def _load(plugins_folder: Path) -> dict[str, object]:
    env = {**os.environ, "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins_folder)}
    out = subprocess.run(
        [sys.executable, "-c", LOAD_LIKE_THE_SCHEDULER, str(plugins_folder / "bulkscan")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_plugin_manager_imports_no_bare_bulkscan_module() -> None:
    loaded = _load(ROOT / "plugins")
    assert loaded["bare"] == [], loaded
    assert loaded["errors"] == {}, loaded


def test_without_the_ignore_file_the_modules_would_load_twice(tmp_path: Path) -> None:
    """The check above can fail: the same package without plugins/.airflowignore is imported bare."""
    shutil.copytree(PACKAGE, tmp_path / "bulkscan", ignore=shutil.ignore_patterns("__pycache__"))
    loaded = _load(tmp_path)
    bare = loaded["bare"]
    assert isinstance(bare, list) and {"topology", "tasks", "settings"} <= set(bare), loaded


def test_runtime_package_ships_no_test_or_demo_helper() -> None:
    """The local Redis Cluster driver and demo seeding live in devtools/, outside the runtime package."""
    names = {p.stem for p in PACKAGE.rglob("*.py")}
    assert not names & {"localcluster", "seed", "demo"}, names & {"localcluster", "seed", "demo"}
    assert (ROOT / "devtools" / "localcluster.py").is_file()
