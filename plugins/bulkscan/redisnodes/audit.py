"""Audit files: one gzip CSV (key, increment, new value) per run and node, rewritten whole by a retry.

They live in the audit store, a folder every worker sees: any `pathlib`-like folder, in practice an
Airflow `ObjectStoragePath` (`file://` on one machine, `s3://` or `gs://` for many; bulkscan.glue.storage
resolves it). A node attempt streams to a temporary object and renames it over the final name only when
its pass is complete, so a killed attempt leaves no half file behind (on an object store an unfinished
upload leaves no object at all); the retry lists every key carrying this run's marker (applied now or
before, with the values stored in the marker), so keys applied by the killed attempt appear exactly once.
`merge_audits` reads a run's files and proves no key was applied twice.

The plan task writes a run marker (`<run>__plan.json`, naming the worker that wrote it) before any key
is touched; `require_shared` in every later task proves the store is the plan's, not a disk of its own.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, Protocol, Self

from bulkscan.core.sweep import audit_file_name, audit_run_prefix
from bulkscan.errors import BulkscanInputError, ReconcileError

HEADER = ("key", "increment", "new_value")


class StorePath(Protocol):
    """What bulkscan needs of a folder or file in the audit store (pathlib.Path and ObjectStoragePath)."""

    @property
    def name(self) -> str: ...
    def __truediv__(self, other: str) -> Self: ...
    def open(self, mode: str = ...) -> IO[Any]: ...
    def exists(self) -> bool: ...
    def mkdir(self, mode: int = ..., parents: bool = ..., exist_ok: bool = ...) -> None: ...
    def glob(self, pattern: str) -> Iterator[Self]: ...
    def rename(self, target: Self) -> Self: ...
    def unlink(self, missing_ok: bool = ...) -> None: ...


MIN_RATE_KEYS = 1_000  # a node pass over fewer keys says little about its rate


def rate_file(store: StorePath, conn_id: str) -> StorePath:
    """The last finished run's node rates for one Redis connection (conn ids hold no path separator)."""
    return store / f"last-run-rates.{conn_id}.json"


def write_rates(store: StorePath, conn_id: str, run_token: str, results: Sequence[Mapping[str, Any]]) -> float | None:
    """Record the slowest seconds per scanned key of the run's node passes (of at least MIN_RATE_KEYS
    keys): what the next plan derives each node task's time limit from. Written whole to a temporary
    name, then renamed over the last one. Returns the rate (None: no pass big enough)."""
    rates = [
        float(r["seconds"]) / int(r["scanned"])
        for r in results
        if r.get("seconds") is not None and int(r.get("scanned") or 0) >= MIN_RATE_KEYS
    ]
    slowest = max(rates, default=None)
    if slowest is not None:
        target = rate_file(store, conn_id)
        tmp = store / f".{target.name}.{uuid.uuid4().hex[:8]}"
        with tmp.open("wb") as fh:
            fh.write(json.dumps({"run": run_token, "slowest_s_per_key": slowest}).encode())
        tmp.rename(target)
    return slowest


def read_rate(store: StorePath, conn_id: str) -> float | None:
    """The slowest seconds per key of the connection's last finished run, or None before one."""
    target = rate_file(store, conn_id)
    if not target.exists():
        return None
    with target.open("rb") as fh:
        rate = json.loads(fh.read()).get("slowest_s_per_key")
    return float(rate) if rate else None


def _text(b: bytes) -> str:
    return b.decode("utf-8", "backslashreplace")


def plan_marker(store: StorePath, run_token: str) -> StorePath:
    return store / f"{audit_run_prefix(run_token)}plan.json"


def write_plan_marker(store: StorePath, run_token: str, worker: str) -> StorePath:
    """Written by the plan task before any key is touched: proves the store is writable, and lets every
    later task prove it sees the same store (`require_shared`)."""
    store.mkdir(parents=True, exist_ok=True)
    marker = plan_marker(store, run_token)
    with marker.open("wb") as fh:
        fh.write(json.dumps({"run": run_token, "worker": worker}).encode())
    return marker


def require_shared(store: StorePath, run_token: str, worker: str) -> None:
    """Refuse to sweep into a store the plan task did not write to: the store is then a disk of this
    worker's own, and `finalize` on another worker would not find this node's audit file."""
    marker = plan_marker(store, run_token)
    if marker.exists():
        return
    raise BulkscanInputError(
        f"the audit store {store} is not shared between workers: this run's plan marker {marker.name} "
        f"is not there on worker {worker!r}, so the plan task ran on a worker that saw another store. "
        "Set the Airflow Variable bulkscan_audit_store (or the audit_store Param) to a store every worker "
        "sees (s3://<conn_id>@bucket/prefix, gs://..., or a shared file:// mount), then clear the whole run."
    )


class AuditWriter:
    """Streams rows into `<store>/<run>__<node>.csv.gz.<attempt>.tmp`; `commit()` renames it into place."""

    def __init__(self, store: StorePath, run_token: str, node_label: str) -> None:
        self.dir = store
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / audit_file_name(run_token, node_label)
        self.tmp = self.dir / f"{self.path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
        self._raw = self.tmp.open("wb")
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=1)
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
        """Rows the page script rendered already (keys that need no CSV quoting). Bytes that are not UTF-8
        become the same escapes `row` writes; the separators are ASCII, so decoding the block whole equals
        decoding each field (the check is C-speed, so the script need not look for such keys)."""
        if not text.isascii():
            text = _text(text).encode()
        self._gz.write(text)
        self.rows += rows

    def _close(self) -> None:
        try:
            self._gz.close()
        finally:
            self._raw.close()

    def commit(self) -> StorePath:
        self._close()
        final = self.tmp.rename(self.path)
        for stale in self.dir.glob(f"{self.path.name}.*.tmp"):  # left by killed attempts
            stale.unlink(missing_ok=True)
        return final

    def abort(self) -> None:
        try:
            self._close()
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


def audit_path(store: StorePath, ref: str) -> StorePath:
    """The file an XCom `audit` entry names (a full URL or path), found in `store` by its name."""
    return store / ref.rsplit("/", 1)[-1]


def read_audit(path: StorePath) -> list[tuple[str, int, int]]:
    with path.open("rb") as raw, io.TextIOWrapper(gzip.GzipFile(fileobj=raw), "utf-8", newline="") as fh:
        rows = csv.reader(fh)
        next(rows, None)
        return [(k, int(i), int(n)) for k, i, n in rows]


def merge_audits(store: StorePath, run_token: str) -> tuple[AuditTotals, dict[str, tuple[int, int]]]:
    """All audit rows of one run by key. A key in two files must carry the same (increment, new value)
    (both rows then come from the one marker written when it was applied); anything else means it was
    applied twice and raises ReconcileError."""
    prefix = audit_run_prefix(run_token)
    seen: dict[str, tuple[int, int]] = {}
    files = rows = repeated = 0
    for path in sorted(store.glob(f"{prefix}*.csv.gz"), key=lambda p: p.name):
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
