"""The declared runtime is the runtime: every third-party module bulkscan's plugins and DAG files import
comes from a dependency declared in requirements.txt (= pyproject.toml's [project] dependencies), every
declared dependency is imported (or needed by the deployment, for a stated reason), and the runtime lock
pins exactly what the development lock pins for the same packages."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Declared although no bulkscan module imports them, and why.
NEEDED_NOT_IMPORTED = {
    "apache-airflow-providers-celery": "the CeleryExecutor of docker-compose.yaml and the stack",
    "celery": "the CeleryExecutor's workers (pinned below 5.7, which breaks the provider's import)",
}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            out[norm(re.split(r"[<>=!~ \[]", line)[0])] = line.replace(" ", "")
    return out


def imports() -> set[str]:
    """Dotted names of every absolute import in plugins/ and dags/ outside the standard library."""
    found: set[str] = set()
    for path in [*(ROOT / "plugins").rglob("*.py"), *(ROOT / "dags").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            found |= {n for n in names if n.split(".")[0] not in sys.stdlib_module_names}
    return {n for n in found if n.split(".")[0] != "bulkscan"}


def distribution_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "airflow":  # one namespace, several distributions
        if parts[1:2] == ["providers"]:
            return f"apache-airflow-providers-{parts[2]}"
        return "apache-airflow-task-sdk" if parts[1:2] == ["sdk"] else "apache-airflow"
    dists = packages_distributions().get(parts[0], [])
    assert dists, f"{module} is imported but no installed distribution provides it"
    return norm(dists[0])


def declared() -> dict[str, str]:
    return requirement_names((ROOT / "requirements.txt").read_text().splitlines())


def test_requirements_txt_and_pyproject_declare_the_same_runtime() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert requirement_names(project["dependencies"]) == declared()


def test_every_import_is_declared_and_every_declaration_imported() -> None:
    used = {distribution_of(m) for m in imports()}
    assert used - set(declared()) == set(), "imported but not declared in requirements.txt"
    unused = set(declared()) - used - set(NEEDED_NOT_IMPORTED)
    assert unused == set(), "declared in requirements.txt but imported nowhere"
    assert not {"psutil", "pytest"} & set(declared())  # dev-only tools stay out of the runtime


def test_the_runtime_lock_pins_what_the_development_lock_pins() -> None:
    def pins(name: str) -> dict[str, str]:
        text = (ROOT / name).read_text()
        return {norm(a): b for a, b in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)}

    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert set(declared()) <= set(runtime)
    assert {k: dev.get(k) for k in runtime} == runtime  # a subset, same versions
    assert "pytest" not in runtime and "pytest" in dev
