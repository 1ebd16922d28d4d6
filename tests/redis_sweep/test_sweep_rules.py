"""The sweep's increment rule, spec validation, counters, audit names and glob matching (pure)."""

from __future__ import annotations

import pytest

from bulkscan.core import sweep as r
from bulkscan.errors import BulkscanInputError
from bulkscan.jobs.redis_sweep import rules
from bulkscan.jobs.redis_sweep.settings import SweepSettings


@pytest.mark.parametrize(
    ("value", "status", "incr"),
    [
        (None, r.MISSING, 0),
        ("0", r.ZERO, 0),
        (b"7", r.APPLIED, 7),
        ("9223372036854775807", r.APPLIED, 2**63 - 1),
        ("9223372036854775808", r.NOT_INTEGER, 0),
        ("-3", r.NEGATIVE, 0),
        ("-9223372036854775808", r.NEGATIVE, 0),
        ("-9223372036854775809", r.NOT_INTEGER, 0),
        ("1.5", r.NOT_INTEGER, 0),
        ("abc", r.NOT_INTEGER, 0),
        ("007", r.NOT_INTEGER, 0),
        ("+3", r.NOT_INTEGER, 0),
        (" 3", r.NOT_INTEGER, 0),
        ("-0", r.NOT_INTEGER, 0),
        ("", r.NOT_INTEGER, 0),
    ],
)
def test_increment_rule(value: str | bytes | None, status: str, incr: int) -> None:
    assert rules.classify_source(value) == (status, incr)


def test_expected_after_covers_target_errors() -> None:
    assert rules.expected_after("5", None) == (r.APPLIED, 5)
    assert rules.expected_after("5", "-10") == (r.APPLIED, -5)
    assert rules.expected_after("5", "x") == (r.TARGET_NOT_INTEGER, None)
    assert rules.expected_after("5", str(2**63 - 3)) == (r.OVERFLOW, None)
    assert rules.expected_after("-5", "1") == (r.NEGATIVE, None)


def test_spec_validation_rejects_bad_input_before_any_io() -> None:
    params = {"redis_conn_id": "c", "pattern": "user:*", "scan_count": 500, "unrelated": 1}
    assert SweepSettings.from_params(params).spec.pattern == "user:*"
    with pytest.raises(BulkscanInputError, match="redis_conn_id"):
        SweepSettings.from_params({"pattern": "user:*"})
    with pytest.raises(BulkscanInputError):
        r.SweepSpec(marker_field="field_2")
    with pytest.raises(BulkscanInputError):
        r.SweepSpec(scan_count=5)
    with pytest.raises(BulkscanInputError):
        r.SweepSpec(pattern="")
    with pytest.raises(BulkscanInputError):
        r.SweepSpec(source_field="a\nb")
    with pytest.raises(BulkscanInputError):
        r.validate_run_token("run|1")


def test_counts_sum_and_audit_names() -> None:
    c = r.SweepCounts()
    for s in (r.APPLIED, r.APPLIED, r.DONE_BEFORE, r.ZERO, r.NOT_INTEGER, r.NOT_INTEGER):
        c.count(s)
    d = c.to_dict()
    assert (d["applied"], d["done_before"], d["audited"]) == (2, 1, 3)
    assert d["skipped"] == {"not_integer": 2, "zero": 1}
    total = r.SweepCounts.total([d, d])
    assert total.applied == 4 and total.skipped["not_integer"] == 4
    name = r.audit_file_name("bulkscan_redis_sweep/manual__2026-01-01T00:00:00+00:00", "127.0.0.1:7001 (slots 0-5460)")
    assert name == "bulkscan_redis_sweep_manual__2026-01-01T00_00_00+00_00__127.0.0.1_7001_slots_0-5460.csv.gz"
    assert name.startswith(r.audit_run_prefix("bulkscan_redis_sweep/manual__2026-01-01T00:00:00+00:00"))
    assert r.slot_ranges([3, 1, 2, 7]) == [(1, 3), (7, 7)]
    assert r.format_slots([(0, 5460), (7, 7)]) == "0-5460,7"


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        ("*", [b"", b"a:b"], []),
        ("user:*", [b"user:1", b"user:"], [b"usr:1"]),
        ("k?", [b"k1"], [b"k", b"k12"]),
        ("k[0-2]x", [b"k1x"], [b"k3x"]),
        ("k[^0-2]", [b"k3"], [b"k1"]),
        (r"a\*b", [b"a*b"], [b"axb"]),
    ],
)
def test_glob_matches_like_redis(pattern: str, yes: list[bytes], no: list[bytes]) -> None:
    rx = r.glob_to_regex(pattern)
    assert all(rx.match(k) for k in yes)
    assert not any(rx.match(k) for k in no)
