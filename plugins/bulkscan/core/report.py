"""Readable tables for task logs (pure): what a run did, per chunk, as an operator reads it in the UI's
log view, instead of one JSON line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

CHUNK_COLUMNS = ("chunk", "label", "rows", "seconds", "rows/s", "try")


def _rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}" if seconds > 0 else "-"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], left: Sequence[int] = (1,)) -> str:
    """Fixed-width columns: text columns (`left`, by position) aligned left, numbers right."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        out = [
            str(c).ljust(w) if i in left else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def chunk_table(chunks: Sequence[Mapping[str, Any]]) -> str:
    """One line per chunk as bulkscan_chunk stores it (chunk_index, label, rows_scanned, seconds,
    try_number), rows per second computed, and a total line; a retried chunk shows its try."""
    body: list[list[str]] = []
    rows_total, seconds_total = 0, 0.0
    for c in chunks:
        rows, seconds = int(c.get("rows_scanned") or 0), float(c.get("seconds") or 0.0)
        rows_total, seconds_total = rows_total + rows, seconds_total + seconds
        body.append(
            [str(c["chunk_index"]), str(c.get("label") or ""), f"{rows:,}", f"{seconds:.2f}", _rate(rows, seconds),
             str(c.get("try_number") or 1)]
        )  # fmt: skip
    total = [
        "all",
        f"{len(chunks)} chunks",
        f"{rows_total:,}",
        f"{seconds_total:.2f}",
        _rate(rows_total, seconds_total),
        "",
    ]
    return table(CHUNK_COLUMNS, [*body, total])


def seconds_table(timings: Mapping[str, float], what: str = "statement") -> str:
    """Seconds per named step, slowest first, with their share of the total."""
    total = sum(timings.values())
    rows = [
        [name, f"{secs:.2f}", f"{100 * secs / total:.0f}%" if total > 0 else "-"]
        for name, secs in sorted(timings.items(), key=lambda kv: -kv[1])
    ]
    return table((what, "seconds", "share"), [*rows, ["all", f"{total:.2f}", ""]], left=(0,))
