"""Identifier checks, filter parsing, the adaptive batch controller and processor loading."""

from __future__ import annotations

import pytest

from bulkscan.core.batching import AdaptiveBatch
from bulkscan.core.identifiers import quote_identifier, quote_qualified, validate_identifier
from bulkscan.core.processor_loader import load_processor
from bulkscan.core.processors import AggregateByKey, CountRows
from bulkscan.errors import BulkscanInputError
from bulkscan.mysqldb.source import Filter


@pytest.mark.parametrize("name", ["events", "t_flow", "table_017", "_x", "a$b"])
def test_good_identifiers(name: str) -> None:
    assert validate_identifier(name) == name
    assert quote_identifier(name) == f"`{name}`"


@pytest.mark.parametrize(
    "name", ["", "1abc", "events; DROP TABLE x", "a`b", "a b", "x" * 65, None, 3, "db.table", "ta-ble"]
)
def test_bad_identifiers(name: object) -> None:
    with pytest.raises(BulkscanInputError):
        validate_identifier(name)


def test_qualified() -> None:
    assert quote_qualified("db", "t") == "`db`.`t`"
    assert quote_qualified(None, "t") == "`t`"


def test_filter_values_are_bound_not_interpolated() -> None:
    f = Filter.parse(["created_at", ">=", "2026-01-01'; DROP TABLE t; --"])
    sql, params = f.sql()
    assert sql == "`created_at` >= %s"
    assert params == ("2026-01-01'; DROP TABLE t; --",)
    sql, params = Filter.parse({"column": "status", "op": "IN", "value": [1, 2]}).sql()
    assert sql == "`status` IN (%s, %s)" and params == (1, 2)


@pytest.mark.parametrize(
    "item", [["x", "LIKE", "a"], ["x;--", "=", 1], ["x", "in", []], ["x", "="], "x = 1", ["x", "<", [1, 2]]]
)
def test_bad_filters(item: object) -> None:
    with pytest.raises(BulkscanInputError):
        Filter.parse(item)


def test_adaptive_batch_moves_toward_target_time() -> None:
    b = AdaptiveBatch(size=10_000, target_seconds=0.5, minimum=100, maximum=1_000_000)
    for _ in range(10):  # fast server: 1M rows/s -> ideal 500k rows per batch
        b.observe(b.size, b.size / 1_000_000)
    assert 400_000 <= b.size <= 500_000
    for _ in range(20):  # the server slows down to 10k rows/s -> ideal 5k
        b.observe(b.size, b.size / 10_000)
    assert 4_000 <= b.size <= 6_000


def test_adaptive_batch_growth_is_bounded_and_clamped() -> None:
    b = AdaptiveBatch(size=1_000, target_seconds=1.0, minimum=500, maximum=50_000)
    assert b.observe(1_000, 0.0001) <= 1_500  # at most x2 toward the ideal, smoothed
    for _ in range(30):
        b.observe(b.size, 1e-6)
    assert b.size == 50_000
    for _ in range(30):
        b.observe(b.size, 1000.0)
    assert b.size == 500


@pytest.mark.parametrize("kw", [{"size": 0}, {"minimum": 10, "size": 5}, {"target_seconds": 0}, {"size": -1}])
def test_adaptive_batch_rejects_bad_sizes(kw: dict[str, float]) -> None:
    with pytest.raises(BulkscanInputError):
        AdaptiveBatch(**kw)  # type: ignore[arg-type]


def test_aggregate_python_path_sums_per_group() -> None:
    p = AggregateByKey("g", "v", pushdown=False)
    p.process([(1, "a", 5), (2, "b", 7), (3, "a", -2), (4, None, 1)], ("id", "g", "v"))
    p.process([(5, "b", None)], ("id", "g", "v"))
    assert p.groups == {"a": [3, 2], "b": [7, 2], None: [1, 1]}
    assert p.finish() == {"groups": 3, "value_sum": "11"}


def test_load_processor_builtins_and_dotted_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(load_processor("count"), CountRows)
    agg = load_processor("aggregate", group="user_id", value="amount")
    assert isinstance(agg, AggregateByKey) and agg.columns == ("user_id", "amount")
    with pytest.raises(BulkscanInputError):
        load_processor("aggregate", group="user_id")  # no value column
    with pytest.raises(BulkscanInputError):
        load_processor("os:system")  # not an allowed module
    with pytest.raises(BulkscanInputError):
        load_processor("bulkscan.core.processors:NoSuchThing")
    with pytest.raises(BulkscanInputError):
        load_processor("not a path")
    monkeypatch.setenv("BULKSCAN_PROCESSOR_PREFIXES", "bulkscan.")
    assert isinstance(load_processor("bulkscan.core.processors:CountRows"), CountRows)
