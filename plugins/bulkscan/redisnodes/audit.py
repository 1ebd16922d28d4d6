"""Audit files: one gzip CSV (key, increment, new value) per run and node, rewritten whole by a retry.

A node attempt writes to a temporary file and renames it over the final name only when its pass is
complete, so a killed attempt leaves no half file behind; the retry lists every key carrying this run's
marker (applied now or before, with the values stored in the marker), so keys applied by the killed
attempt appear exactly once. `merge_audits` reads a run's files and proves no key was applied twice.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from dataclasses import dataclass
from pathlib import Path

from bulkscan.core.sweep import audit_file_name, audit_run_prefix
from bulkscan.errors import ReconcileError

HEADER = ("key", "increment", "new_value")


def _text(b: bytes) -> str:
    return b.decode("utf-8", "backslashreplace")


class AuditWriter:
    """Streams rows into `<dir>/<run>__<node>.csv.gz.<pid>.tmp`; `commit()` renames it into place."""

    def __init__(self, directory: str | Path, run_token: str, node_label: str) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / audit_file_name(run_token, node_label)
        self.tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        self._gz = gzip.open(self.tmp, "wb", compresslevel=1)  # noqa: SIM115 - owned until commit() or abort()
        self._buf = io.StringIO()
        self._csv = csv.writer(self._buf, lineterminator="\n")
        self.rows = 0
        self.row(*(h.encode() for h in HEADER))
        self.rows = 0

    def row(self, key: bytes, increment: bytes, new_value: bytes) -> None:
        """One row through the csv module (quoting, any bytes)."""
        self._csv.writerow((_text(key), _text(increment), _text(new_value)))
        self._gz.write(self._buf.getvalue().encode())
        self._buf.seek(0)
        self._buf.truncate()
        self.rows += 1

    def block(self, text: bytes, rows: int) -> None:
        """Rows the page script rendered already (plain ASCII keys that need no CSV quoting)."""
        self._gz.write(text)
        self.rows += rows

    def commit(self) -> Path:
        self._gz.close()
        os.replace(self.tmp, self.path)
        for stale in self.dir.glob(f"{self.path.name}.*.tmp"):  # left by killed attempts
            stale.unlink(missing_ok=True)
        return self.path

    def abort(self) -> None:
        try:
            self._gz.close()
        finally:
            self.tmp.unlink(missing_ok=True)


@dataclass
class AuditTotals:
    """What a run's audit files add up to."""

    keys: int
    increment_sum: int
    files: int
    rows: int
    repeated: int  # rows naming a key another file also names (a key that moved nodes): must agree

    def to_dict(self) -> dict[str, int]:
        return self.__dict__.copy()


def read_audit(path: str | Path) -> list[tuple[str, int, int]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh)
        next(rows, None)
        return [(k, int(i), int(n)) for k, i, n in rows]


def merge_audits(directory: str | Path, run_token: str) -> tuple[AuditTotals, dict[str, tuple[int, int]]]:
    """All audit rows of one run by key. A key in two files must carry the same (increment, new value)
    (both rows then come from the one marker written when it was applied); anything else means it was
    applied twice and raises ReconcileError."""
    prefix = audit_run_prefix(run_token)
    seen: dict[str, tuple[int, int]] = {}
    files = rows = repeated = 0
    for path in sorted(Path(directory).glob(f"{prefix}*.csv.gz")):
        files += 1
        in_file: set[str] = set()
        for key, incr, new in read_audit(path):
            rows += 1
            if key in in_file:
                raise ReconcileError(f"{path.name} lists key {key!r} twice")
            in_file.add(key)
            old = seen.get(key)
            if old is None:
                seen[key] = (incr, new)
            elif old != (incr, new):
                raise ReconcileError(f"key {key!r} applied twice in this run: {old} and {(incr, new)}")
            else:
                repeated += 1
    totals = AuditTotals(
        keys=len(seen),
        increment_sum=sum(i for i, _ in seen.values()),
        files=files,
        rows=rows,
        repeated=repeated,
    )
    return totals, seen
