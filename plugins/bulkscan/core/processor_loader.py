"""Which processor a trigger form names: a built-in ('aggregate', 'count', 'sql_file') or a user's factory
by dotted path ('package.module:factory'), imported only from the allowed module prefixes.

A trigger form must not be a way to import arbitrary modules on the workers, so this gate is kept
apart from the processors themselves (bulkscan.core.processors).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from bulkscan.core.processors import AggregateByKey, CountRows, Processor, SqlFileAggregate
from bulkscan.errors import BulkscanInputError

BUILTINS: dict[str, type[Processor]] = {"aggregate": AggregateByKey, "count": CountRows, "sql_file": SqlFileAggregate}
DEFAULT_PREFIXES = "bulkscan.,processors."


def allowed_prefixes() -> tuple[str, ...]:
    """Modules a dotted-path processor may come from (BULKSCAN_PROCESSOR_PREFIXES, comma separated).

    A trigger form must not be a way to import arbitrary modules on the workers.
    """
    raw = os.environ.get("BULKSCAN_PROCESSOR_PREFIXES", DEFAULT_PREFIXES)
    return tuple(p.strip() for p in raw.split(",") if p.strip())


def load_processor(spec: str, **kwargs: Any) -> Processor:
    """'aggregate' (kwargs group, value), 'count', or 'package.module:factory' (kwargs passed on)."""
    if not isinstance(spec, str) or not spec.strip():
        raise BulkscanInputError("processor must be 'aggregate', 'count' or 'package.module:factory'")
    spec = spec.strip()
    if spec in BUILTINS:
        if spec == "count":
            return CountRows()
        if spec == "sql_file":
            return SqlFileAggregate(kwargs.get("file"), kwargs.get("params"))  # type: ignore[arg-type]
        if not kwargs.get("value"):
            raise BulkscanInputError("the aggregate processor needs a value column")
        return AggregateByKey(kwargs.get("group") or None, kwargs["value"], bool(kwargs.get("pushdown", True)))
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise BulkscanInputError(f"processor {spec!r} is not 'aggregate', 'count' or 'package.module:factory'")
    if not any(module_name.startswith(p) or module_name == p.rstrip(".") for p in allowed_prefixes()):
        raise BulkscanInputError(
            f"processor module {module_name!r} is not under an allowed prefix {allowed_prefixes()} "
            "(set BULKSCAN_PROCESSOR_PREFIXES)"
        )
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise BulkscanInputError(f"cannot load processor {spec!r}: {exc}") from exc
    processor = factory(**kwargs)
    if not isinstance(processor, Processor):
        raise BulkscanInputError(f"processor {spec!r} returned {type(processor).__name__}, not a Processor")
    return processor
