"""SQL identifiers: validated by a strict pattern, then backquoted.

Identifiers are the one part of a query that cannot be a bound parameter, so they are checked twice:
here by shape, and against information_schema (bulkscan.mysqldb.source) before any scan starts.
"""

from __future__ import annotations

import re

from bulkscan.errors import BulkscanInputError

IDENT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_$]{0,63}$"
_IDENT = re.compile(IDENT_PATTERN)


def validate_identifier(name: object, what: str = "identifier") -> str:
    """Return `name` if it is a plain identifier (letters, digits, _ and $; at most 64 chars)."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise BulkscanInputError(
            f"bad {what} {name!r}: use letters, digits, '_' or '$' (max 64 characters, not starting with a digit)"
        )
    return name


def quote_identifier(name: str, what: str = "identifier") -> str:
    """Backquote a validated identifier: `name`."""
    return f"`{validate_identifier(name, what)}`"


def quote_qualified(database: str | None, table: str) -> str:
    """`db`.`table`, or just `table` when no database is given."""
    if database:
        return f"{quote_identifier(database, 'database')}.{quote_identifier(table, 'table')}"
    return quote_identifier(table, "table")
