"""Error types: input errors are raised before any data is touched."""

from __future__ import annotations


class BulkscanError(Exception):
    """Base class of every error bulkscan raises on purpose."""


class BulkscanInputError(BulkscanError, ValueError):
    """Bad input (unknown table, bad identifier, bad size): raised before any scan or write starts."""


class ReconcileError(BulkscanError):
    """Results do not add up (a chunk scanned a different number of rows than its range holds)."""
