"""SQL templates from include/sql/: values are always bound; only validated, quoted identifiers and
fragments built by bulkscan are ever substituted into a template."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

SQL_DIR = Path(os.environ.get("BULKSCAN_SQL_DIR", Path(__file__).resolve().parents[2] / "include" / "sql"))


class Fragment(str):
    """A piece of SQL that bulkscan itself built from validated identifiers (never user text)."""


@cache
def _template(name: str) -> str:
    text = (SQL_DIR / f"{name}.sql").read_text()
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--")).strip()


def render(name: str, **parts: Fragment) -> str:
    """Fill a template's {placeholders}; every part must be a Fragment, so raw strings cannot slip in."""
    for key, value in parts.items():
        if not isinstance(value, Fragment):
            raise TypeError(f"SQL part {key!r} must be a Fragment built from validated identifiers")
    return _template(name).format(**parts)


def raw(name: str) -> str:
    """A template with no placeholders (only bound parameters)."""
    return _template(name)
