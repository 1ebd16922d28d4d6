"""Audit files: atomic rewrite per attempt, the merge that refuses a key applied twice, and the plan
marker that proves every task sees one store (files only; each case on a plain folder and on the same
folder as an Airflow ObjectStoragePath, the type the tasks use)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import ObjectStoragePath

from bulkscan.errors import BulkscanInputError, ReconcileError
from bulkscan.redisnodes.audit import (
    AuditWriter,
    audit_path,
    merge_audits,
    read_audit,
    read_rate,
    require_shared,
    write_plan_marker,
    write_rates,
)


@pytest.fixture(params=["pathlib", "object-storage"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return tmp_path if request.param == "pathlib" else ObjectStoragePath(f"file://{tmp_path}")


def write(d: Any, node: str, rows: list[tuple[bytes, bytes, bytes]], block: bytes = b"") -> Any:
    w = AuditWriter(d, "dag/run-1", node)
    for r in rows:
        w.row(*r)
    if block:
        w.block(block, block.count(b"\n"))
    return w.commit()


def test_rows_quoted_and_blocks_appended(store: Any, tmp_path: Path) -> None:
    path = write(store, "n1", [(b'odd,"key"\nx', b"3", b"4"), ("ü".encode(), b"1", b"2")], b"k1,5,6\nk2,7,8\n")
    assert read_audit(path) == [('odd,"key"\nx', 3, 4), ("ü", 1, 2), ("k1", 5, 6), ("k2", 7, 8)]
    assert read_audit(audit_path(store, str(path))) == read_audit(path)  # found again by its XCom entry
    assert not list(tmp_path.glob("*.tmp"))


def test_a_block_holding_bytes_that_are_not_utf8_reads_as_the_same_rows_written_one_by_one(store: Any) -> None:
    keys = [b"k\xff\xfe", "ü".encode(), b"tab\there\x01", b"half\xc3", b"plain"]
    block = b"".join(k + b",1," + str(i).encode() + b"\n" for i, k in enumerate(keys))
    by_rows = write(store, "n1", [(k, b"1", str(i).encode()) for i, k in enumerate(keys)])
    as_block = write(store, "n2", [], block)
    assert read_audit(as_block) == read_audit(by_rows)
    assert read_audit(as_block)[0] == ("k\\xff\\xfe", 1, 0)


def test_abort_leaves_nothing_and_commit_clears_stale_attempts(store: Any, tmp_path: Path) -> None:
    w = AuditWriter(store, "dag/run-1", "n1")
    w.row(b"a", b"1", b"2")
    w.abort()
    assert not list(tmp_path.iterdir())
    stale = tmp_path / "dag_run-1__n1.csv.gz.999999.tmp"
    stale.write_bytes(b"half")
    write(store, "n1", [(b"a", b"1", b"2")])
    assert not stale.exists()


def test_merge_accepts_a_moved_key_once_and_refuses_double_application(store: Any) -> None:
    tmp_path = store
    write(tmp_path, "n1", [(b"a", b"1", b"2"), (b"b", b"5", b"6")])
    write(tmp_path, "n2", [(b"b", b"5", b"6")])  # b moved nodes: both saw the same marker
    totals, rows = merge_audits(tmp_path, "dag/run-1")
    assert (totals.keys, totals.increment_sum, totals.files, totals.rows, totals.repeated) == (2, 6, 2, 3, 1)
    assert rows == {"a": (1, 2), "b": (5, 6)}
    assert merge_audits(tmp_path, "dag/run-2")[0].keys == 0  # other runs' files are not read
    write(tmp_path, "n3", [(b"b", b"5", b"11")])
    with pytest.raises(ReconcileError, match="applied twice"):
        merge_audits(tmp_path, "dag/run-1")


def test_merge_refuses_a_key_twice_in_one_file(store: Any) -> None:
    tmp_path = store
    write(tmp_path, "n1", [(b"a", b"1", b"2"), (b"a", b"1", b"2")])
    with pytest.raises(ReconcileError, match="twice"):
        merge_audits(tmp_path, "dag/run-1")


def test_plan_marker_proves_the_store_is_shared(store: Any, tmp_path: Path) -> None:
    with pytest.raises(BulkscanInputError, match=r"not shared between workers.*'w2'.*bulkscan_audit_store"):
        require_shared(store, "dag/run-1", "w2")  # no plan marker: this worker sees another store
    marker = write_plan_marker(store, "dag/run-1", "w1")
    assert '"worker": "w1"' in marker.read_text()
    require_shared(store, "dag/run-1", "w2")
    with pytest.raises(BulkscanInputError):
        require_shared(store, "dag/run-2", "w2")  # one run's marker does not vouch for another
    assert merge_audits(store, "dag/run-1")[0].files == 0  # the marker is not an audit file


def test_the_last_runs_slowest_rate_per_key_is_kept_per_connection_for_the_next_plan(store: Any) -> None:
    """finalize records the slowest seconds per scanned key of the run's node passes; passes of fewer than
    1,000 keys say nothing about a rate and a run of only such passes leaves the last record as it was."""
    assert read_rate(store, "cache") is None  # before a first run: the form's limit applies
    results = [{"scanned": 4_000, "seconds": 2.0}, {"scanned": 5_000, "seconds": 4.0}, {"scanned": 10, "seconds": 9}]
    assert write_rates(store, "cache", "run-1", results) == 4.0 / 5_000
    assert read_rate(store, "cache") == 4.0 / 5_000
    assert read_rate(store, "other") is None  # another connection's rate is its own
    assert write_rates(store, "cache", "run-2", [{"scanned": 999, "seconds": 60.0}]) is None
    assert read_rate(store, "cache") == 4.0 / 5_000
    write_rates(store, "cache", "run-3", [{"scanned": 2_000, "seconds": 1.0}])
    assert read_rate(store, "cache") == 1.0 / 2_000  # the last run's, not the slowest ever
    assert sorted(p.name for p in store.glob("*rates*")) == ["last-run-rates.cache.json"]  # no temporary left
