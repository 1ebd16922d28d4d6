"""When an integer column may be summed in a DOUBLE: every partial sum must stay within 2^53, where a
double holds each integer exactly (TableSpec.double_exact_rows, used by the pushed-down aggregate)."""

from __future__ import annotations

import pytest

from bulkscan.core.tablespec import TableSpec, double_exact_rows

DOUBLE_EXACT = 2**53


@pytest.mark.parametrize(
    "column_type,bits,unsigned",
    [
        ("tinyint(4)", 8, False),
        ("tinyint(3) unsigned", 8, True),
        ("smallint(6)", 16, False),
        ("smallint unsigned", 16, True),
        ("mediumint(9)", 24, False),
        ("mediumint(8) unsigned", 24, True),
        ("int(11)", 32, False),
        ("int", 32, False),  # MySQL 8 spells it without a display width
        ("int(10) unsigned zerofill", 32, True),
        ("INTEGER", 32, False),
    ],
)
def test_that_many_values_of_the_type_sum_exactly_and_not_many_more_would(
    column_type: str, bits: int, unsigned: bool
) -> None:
    rows = double_exact_rows(column_type)
    biggest = 2**bits - 1 if unsigned else 2 ** (bits - 1)  # the largest magnitude: |MIN| when signed
    assert rows * biggest <= DOUBLE_EXACT  # every partial sum of `rows` values is a double, exactly
    assert (2 * rows + 1) * biggest > DOUBLE_EXACT  # and the rule gives away less than half of the room


@pytest.mark.parametrize(
    "column_type", ["bigint(20)", "bigint unsigned", "decimal(10,2)", "double", "float", "varchar(32)", "", None]
)
def test_other_types_are_never_summed_in_a_double(column_type: str | None) -> None:
    assert double_exact_rows(column_type) == 0


def test_a_spec_knows_only_the_types_it_was_resolved_with() -> None:
    typed = TableSpec("db", "t", "id", ("id", "v", "big"), column_types=(("v", "int(11)"), ("big", "bigint(20)")))
    assert typed.double_exact_rows("v") == 2**22
    assert typed.double_exact_rows("big") == 0
    assert TableSpec("db", "t", "id", ("id", "v")).double_exact_rows("v") == 0  # a shard spec built by hand
