"""Audit files: atomic rewrite per attempt, and the merge that refuses a key applied twice (files only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkscan.errors import ReconcileError
from bulkscan.redisnodes.audit import AuditWriter, merge_audits, read_audit


def write(d: Path, node: str, rows: list[tuple[bytes, bytes, bytes]], block: bytes = b"") -> Path:
    w = AuditWriter(d, "dag/run-1", node)
    for r in rows:
        w.row(*r)
    if block:
        w.block(block, block.count(b"\n"))
    return w.commit()


def test_rows_quoted_and_blocks_appended(tmp_path: Path) -> None:
    path = write(tmp_path, "n1", [(b'odd,"key"\nx', b"3", b"4"), ("ü".encode(), b"1", b"2")], b"k1,5,6\nk2,7,8\n")
    assert read_audit(path) == [('odd,"key"\nx', 3, 4), ("ü", 1, 2), ("k1", 5, 6), ("k2", 7, 8)]
    assert not list(tmp_path.glob("*.tmp"))


def test_abort_leaves_nothing_and_commit_clears_stale_attempts(tmp_path: Path) -> None:
    w = AuditWriter(tmp_path, "dag/run-1", "n1")
    w.row(b"a", b"1", b"2")
    w.abort()
    assert not list(tmp_path.iterdir())
    stale = tmp_path / "dag_run-1__n1.csv.gz.999999.tmp"
    stale.write_bytes(b"half")
    write(tmp_path, "n1", [(b"a", b"1", b"2")])
    assert not stale.exists()


def test_merge_accepts_a_moved_key_once_and_refuses_double_application(tmp_path: Path) -> None:
    write(tmp_path, "n1", [(b"a", b"1", b"2"), (b"b", b"5", b"6")])
    write(tmp_path, "n2", [(b"b", b"5", b"6")])  # b moved nodes: both saw the same marker
    totals, rows = merge_audits(tmp_path, "dag/run-1")
    assert (totals.keys, totals.increment_sum, totals.files, totals.rows, totals.repeated) == (2, 6, 2, 3, 1)
    assert rows == {"a": (1, 2), "b": (5, 6)}
    assert merge_audits(tmp_path, "dag/run-2")[0].keys == 0  # other runs' files are not read
    write(tmp_path, "n3", [(b"b", b"5", b"11")])
    with pytest.raises(ReconcileError, match="applied twice"):
        merge_audits(tmp_path, "dag/run-1")


def test_merge_refuses_a_key_twice_in_one_file(tmp_path: Path) -> None:
    write(tmp_path, "n1", [(b"a", b"1", b"2"), (b"a", b"1", b"2")])
    with pytest.raises(ReconcileError, match="twice"):
        merge_audits(tmp_path, "dag/run-1")
