"""The parts of a DB-API connection and cursor bulkscan uses, as Protocols (typing only, no driver).

mysqlclient's objects satisfy them; so does anything else speaking DB-API 2 with `%s` parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

Params = Sequence[Any] | dict[str, Any] | None
Row = tuple[Any, ...]


class Cursor(Protocol):
    rowcount: int
    description: Sequence[Sequence[Any]] | None

    def execute(self, query: str, args: Params = None) -> Any: ...

    def executemany(self, query: str, args: Sequence[Sequence[Any]]) -> Any: ...

    def fetchone(self) -> Row | None: ...

    def fetchall(self) -> Sequence[Row]: ...

    def close(self) -> Any: ...


class Connection(Protocol):
    def cursor(self) -> Cursor: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def autocommit(self, on: bool) -> None: ...

    def close(self) -> None: ...


ConnectFactory = Callable[[], Connection]
