"""The seed's increment rule, `field_2 += field_1`, as a Python reference (pure, no I/O).

The rule runs server-side in include/redis/sweep_page.lua; this module mirrors it exactly, so tests
compute their ground truth from it and the docs can point at it.
"""

from __future__ import annotations

import re

from bulkscan.core.sweep import APPLIED, MISSING, NEGATIVE, NOT_INTEGER, OVERFLOW, TARGET_NOT_INTEGER, ZERO

INT64_MAX = 2**63 - 1
_POSITIVE = re.compile(r"^[1-9][0-9]*$")
_NEGATIVE = re.compile(r"^-[1-9][0-9]*$")


def classify_source(value: str | bytes | None) -> tuple[str, int]:
    """The increment rule: (status, increment). Only a canonical positive int64 is applied.

    Mirrors the Lua script exactly: missing -> M, "0" -> Z, "-5" -> N, anything else that is not a
    canonical decimal int64 (leading zeros, '+', spaces, decimals, out of range) -> I.
    """
    if value is None:
        return MISSING, 0
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if text == "0":
        return ZERO, 0
    if _POSITIVE.match(text):
        n = int(text)
        return (APPLIED, n) if n <= INT64_MAX else (NOT_INTEGER, 0)
    if _NEGATIVE.match(text):
        return (NEGATIVE, 0) if int(text) >= -INT64_MAX - 1 else (NOT_INTEGER, 0)
    return NOT_INTEGER, 0


def expected_after(source: str | bytes | None, target: str | bytes | None) -> tuple[str, int | None]:
    """Ground truth for one key: (status, target value after one sweep) or (status, None) if untouched."""
    status, incr = classify_source(source)
    if status != APPLIED:
        return status, None
    text = "0" if target is None else (target.decode() if isinstance(target, bytes) else target)
    if not (text == "0" or _POSITIVE.match(text) or _NEGATIVE.match(text)) or abs(int(text)) > INT64_MAX + 1:
        return TARGET_NOT_INTEGER, None
    new = int(text) + incr
    if new > INT64_MAX:
        return OVERFLOW, None
    return APPLIED, new
