"""Tuple-key chunks (composite and string keys), read as a spec: pure, no server."""

from __future__ import annotations

import pytest

from bulkscan.core.keys import (
    KeyChunk,
    compare_params,
    compare_sql,
    iter_key_chunks,
    key_label,
    parse_key_columns,
)
from bulkscan.errors import BulkscanInputError


def test_key_columns_are_one_name_a_list_or_empty_for_the_primary_key() -> None:
    assert parse_key_columns("id") == ("id",)
    assert parse_key_columns(" shop_id , id ") == ("shop_id", "id")
    assert parse_key_columns(["shop_id", "id"]) == ("shop_id", "id")
    assert parse_key_columns("") == parse_key_columns(None) == ()
    with pytest.raises(BulkscanInputError, match="bad key column"):
        parse_key_columns("id; DROP TABLE x")
    with pytest.raises(BulkscanInputError, match="repeat"):
        parse_key_columns("id, id")


def test_tuple_comparisons_are_written_out_for_the_range_optimizer() -> None:
    """Never the row constructor (a, b) > (x, y): MariaDB reads the whole index for that."""
    assert compare_sql(["a"], ">=") == "`a` >= %s"
    assert compare_sql(["a", "b"], ">") == "(`a` > %s OR (`a` = %s AND `b` > %s))"
    assert compare_sql(["a", "b", "c"], "<=") == "(`a` < %s OR (`a` = %s AND (`b` < %s OR (`b` = %s AND `c` <= %s))))"
    assert compare_params((1, "x", 3)) == (1, 1, "x", "x", 3)


def _python_compare(op: str, row: tuple[int, ...], key: tuple[int, ...]) -> bool:
    return {">": row > key, ">=": row >= key, "<": row < key, "<=": row <= key}[op]


@pytest.mark.parametrize("op", [">", ">=", "<", "<="])
def test_the_written_out_comparison_means_tuple_order(op: str) -> None:
    """Evaluate the generated SQL as Python over every (a, b, c) in a small cube, against tuple order."""
    sql = compare_sql(["a", "b", "c"], op).replace("`", "").replace(" OR ", " or ").replace(" AND ", " and ")
    sql = sql.replace(" = ", " == ")
    key = (1, 0, 2)
    params = compare_params(key)
    for row in [(a, b, c) for a in range(3) for b in range(3) for c in range(3)]:
        expr = sql
        for p in params:
            expr = expr.replace("%s", repr(p), 1)
        assert eval(expr, {}, dict(zip("abc", row, strict=True))) == _python_compare(op, row, key), (row, expr)


def test_labels_read_like_the_key() -> None:
    assert key_label(("shop_id", "id"), (17, 5001)) == "shop 17 id 5,001"
    chunk = KeyChunk(0, ("shop_id", "id"), (17, 5001), (19, 13), (19, 12), 100)
    assert chunk.label == "shop 17 id 5,001 - shop 19 id 12"
    assert KeyChunk(0, ("sku",), ("Apple",), None, ("pear",)).label == "sku 'Apple' - sku 'pear'"


def test_a_chunk_round_trips_through_xcom_and_bounds_are_half_open_then_closed() -> None:
    inner = KeyChunk(3, ("shop_id", "id"), (17, 5001), (19, 13), (19, 12), 100)
    final = KeyChunk(4, ("shop_id", "id"), (19, 13), None, (40, 9), 77)
    for c in (inner, final):
        assert KeyChunk.from_dict(c.payload()) == c
    assert inner.where()[0].endswith("(`shop_id` < %s OR (`shop_id` = %s AND `id` < %s))")
    assert final.where()[0].endswith("(`shop_id` < %s OR (`shop_id` = %s AND `id` <= %s))")
    assert inner.stored_bounds() == (None, None, "[17, 5001]", '{"<": [19, 13]}')
    with pytest.raises(BulkscanInputError, match="2 integers or strings"):
        KeyChunk.from_dict({**inner.payload(), "lo": [17]})


def test_the_walk_makes_equal_chunks_and_the_last_takes_the_rest() -> None:
    keys = [(s, i) for s in range(3) for i in range(10)]  # 30 rows in tuple order

    def walk(lo: tuple[int, ...], n: int) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
        at = keys.index(lo)
        return (keys[at + n - 1], keys[at + n]) if at + n < len(keys) else None

    chunks = list(iter_key_chunks(walk, ("s", "i"), (keys[0], lambda: keys[-1]), None, 8, 64))
    assert [c.rows for c in chunks] == [8, 8, 8, None]  # the caller counts the last one
    assert [c.lo for c in chunks] == [keys[0], keys[8], keys[16], keys[24]]
    assert [c.hi for c in chunks[:-1]] == [keys[8], keys[16], keys[24]] and chunks[-1].hi is None
    assert chunks[-1].last == keys[-1]
    fitted = list(iter_key_chunks(walk, ("s", "i"), (keys[0], lambda: keys[-1]), 30, 8, 2))  # max 2 chunks
    assert [c.rows for c in fitted] == [15, 15]
