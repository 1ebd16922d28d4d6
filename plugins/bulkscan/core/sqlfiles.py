"""SQL templates from include/sql/: values are always bound; only validated, quoted identifiers and
fragments built by bulkscan are ever substituted into a template."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from bulkscan.core.paths import SQL_DIR
from bulkscan.errors import BulkscanInputError


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


def statements(name: str, **parts: Fragment) -> list[str]:
    """A file of several statements, rendered, one string per statement (split on ';')."""
    return [s.strip() for s in render(name, **parts).split(";") if s.strip()]


# --- the user's own per-shard query: a file under include/sql/ ----------------------------------

QUERY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_BOUND = re.compile(r"%\((\w+)\)s")
RESERVED = ("bulkscan_lo", "bulkscan_hi")
SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class UserQuery:
    """A validated query file: `{table}` and `{range}` are filled by bulkscan, values are bound.

    `{table}` becomes the quoted shard table (only after it matched the topology) and `{range}` the
    item's key range (`key >= %(bulkscan_lo)s AND key < %(bulkscan_hi)s`, or `1=1` for a whole
    table); every other value is a `%(name)s` parameter bound from `params`.
    """

    name: str
    text: str
    params: dict[str, Any] = field(default_factory=dict)

    def render(self, table: Fragment, key_range: Fragment) -> str:
        if not isinstance(table, Fragment) or not isinstance(key_range, Fragment):
            raise TypeError("query file parts must be Fragments built from validated identifiers")
        return self.text.format(table=table, range=key_range)

    def bind(self, lo: int | None = None, hi: int | None = None) -> dict[str, Any]:
        return {**self.params, **({} if lo is None else {"bulkscan_lo": lo, "bulkscan_hi": hi})}


def user_query(name: object, params: Mapping[str, Any] | None = None) -> UserQuery:
    """Load and check a query file before any query runs; every mistake is a BulkscanInputError."""
    stem = _query_stem(name)
    text = _template(stem)
    where = f"query file {stem}.sql"
    _check_text(where, text)
    given = dict(params or {})
    _check_params(where, text, given)
    return UserQuery(stem, text, given)


def _query_stem(name: object) -> str:
    """The file's stem, once it is a plain name of a file that exists under include/sql/."""
    if not isinstance(name, str):
        raise BulkscanInputError(f"query file must be a file name under include/sql/, got {name!r}")
    stem = name.strip().removesuffix(".sql")
    if not QUERY_NAME.fullmatch(stem):
        raise BulkscanInputError(
            f"query file {name!r}: use a plain file name under include/sql/ ([a-z][a-z0-9_]*.sql, no paths)"
        )
    if not (SQL_DIR / f"{stem}.sql").is_file():
        raise BulkscanInputError(f"query file {stem}.sql not found under {SQL_DIR}")
    return stem


def _check_text(where: str, text: str) -> None:
    """One SELECT, exactly the placeholders {table} and {range}, every value a %(name)s parameter."""
    if not re.match(r"(?is)^\s*(select|with)\b", text) or ";" in text.rstrip().rstrip(";"):
        raise BulkscanInputError(f"{where}: must be one SELECT statement")
    holes = set(_PLACEHOLDER.findall(text))
    if holes != {"table", "range"}:
        raise BulkscanInputError(
            f"{where}: needs exactly the placeholders {{table}} and {{range}}, found {sorted(holes) or 'none'}"
        )
    if "%" in _BOUND.sub("", text).replace("%%", ""):
        raise BulkscanInputError(f"{where}: values go in %(name)s parameters; write a literal % as %%")


def _check_params(where: str, text: str, given: Mapping[str, Any]) -> None:
    """Scalar values under plain names, exactly the ones the file uses, none of bulkscan's own."""
    used = set(_BOUND.findall(text))
    for key, value in given.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_]\w{0,63}", key):
            raise BulkscanInputError(f"{where}: bad parameter name {key!r}")
        if not isinstance(value, SCALARS):
            raise BulkscanInputError(f"{where}: parameter {key!r} must be a string, number, boolean or null")
    reserved = sorted((used | set(given)) & set(RESERVED))
    missing = sorted(used - set(given) - set(RESERVED))
    unused = sorted(set(given) - used)
    problems = []
    if reserved:
        problems.append(f"{', '.join(reserved)} reserved for {{range}}")
    if missing:
        problems.append(f"no value for {', '.join(missing)}")
    if unused:
        problems.append(f"not used by the file: {', '.join(unused)}")
    if problems:
        raise BulkscanInputError(f"{where}: " + "; ".join(problems))
