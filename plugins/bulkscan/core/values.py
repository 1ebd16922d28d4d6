"""Checks and patterns every job's settings share, defined once (pure, no I/O).

The trigger forms (bulkscan.glue.params) use the same patterns, so the form refuses what
`from_params()` would refuse, with the same rule behind both.
"""

from __future__ import annotations

from bulkscan.core.identifiers import IDENT_PATTERN
from bulkscan.errors import BulkscanInputError

OPTIONAL_IDENT_PATTERN = f"^({IDENT_PATTERN.strip('^$')})?$"
_IDENT = IDENT_PATTERN.strip("^$")
# 'id', 'shop_id, id' (a composite key, up to 8 columns), or '' for the table's primary key
KEY_COLUMNS_PATTERN = rf"^\s*({_IDENT}(\s*,\s*{_IDENT}){{0,7}})?\s*$"
# A user processor: 'package.module:factory'.
DOTTED_PROCESSOR = r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*"
# The processors a job accepts: the built-ins it names, or a user processor.
ROW_PROCESSOR_PATTERN = rf"^(aggregate|count|{DOTTED_PROCESSOR})$"
AGGREGATE_PROCESSOR_PATTERN = rf"^(aggregate|{DOTTED_PROCESSOR})$"
# Airflow connection ids (MySQL and Redis alike).
CONN_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,249}$"
OPTIONAL_CONN_ID_PATTERN = r"^([A-Za-z0-9_][A-Za-z0-9_.\-]{0,249})?$"


def positive_int(value: object, what: str) -> int:
    """`value` if it is an int >= 1 (not a bool); otherwise an input error naming `what`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BulkscanInputError(f"{what} must be a positive integer, got {value!r}")
    return value


def run_key(dag_id: str, run_id: str) -> str:
    """The key a run's results are stored under: one name for the run, from the form to the SQL."""
    return f"{dag_id}/{run_id}"


def optional_str(value: object) -> str | None:
    """A form field that may be empty: None for None or '', else the text."""
    text = "" if value is None else str(value)
    return text or None
