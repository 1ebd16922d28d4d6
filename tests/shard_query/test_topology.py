"""Topology parsing, validation, expansion into shard tasks and reconciliation (pure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bulkscan.core.chunks import Chunk
from bulkscan.errors import BulkscanInputError, ReconcileError
from bulkscan.jobs.shard_query.packing import Answer, ShardUnit, build_units, group_label, group_tables, reconcile
from bulkscan.jobs.shard_query.topology import (
    check_connections,
    expand_range,
    load_topology,
    parse_topology,
    resolve_host,
)

ROOT = Path(__file__).resolve().parents[2]


def test_expand_padded_range() -> None:
    names = expand_range("table_000-015")
    assert names == [f"table_{i:03d}" for i in range(16)]


def test_expand_unpadded_and_single() -> None:
    assert expand_range("t_8-11") == ["t_8", "t_9", "t_10", "t_11"]
    assert expand_range("table_017") == ["table_017"]
    assert expand_range("orders_2024_07-09") == [
        "orders_2024_07",
        "orders_2024_08",
        "orders_2024_09",
    ]


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("table_015-000", "below the low end"),
        ("table_00a-015", "bad shard range"),
        ("table-x", "bad shard range"),
        ("1table_000-003", "bad shard range"),
        ("tab`le_000", "bad shard table"),
        ("", "non-empty"),
    ],
)
def test_bad_ranges(spec: str, needle: str) -> None:
    with pytest.raises(BulkscanInputError, match=needle):
        expand_range(spec)


def test_parse_forms_and_labels() -> None:
    topo = parse_topology(
        {
            "database": "shop",
            "hosts": {
                "bs_shard_a": "table_000-003",
                "bs_shard_b": ["table_004-005", "table_009"],
                "bs_shard_c": {
                    "database": "other",
                    "tables": "table_010-011, table_020",
                },
            },
        }
    )
    assert topo.conn_ids == ("bs_shard_a", "bs_shard_b", "bs_shard_c")
    assert [t.table for t in topo.tables] == [
        *(f"table_{i:03d}" for i in range(6)),
        "table_009",
        "table_010",
        "table_011",
        "table_020",
    ]
    assert topo.host("bs_shard_c").database == "other"
    assert topo.tables[0].label == "bs_shard_a / table_000"
    assert parse_topology(topo.as_dict()).tables == topo.tables
    assert parse_topology(json.dumps(topo.as_dict())).tables == topo.tables


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (
            {"database": "d", "hosts": {"a": "t_000-010", "b": "t_010-020"}},
            r"'t_010'.*also on 'a'",
        ),
        (
            {"database": "d", "hosts": {"a": ["t_000-003", "t_002"]}},
            "twice on the same host",
        ),
        ({"hosts": {"a": "t_000-003"}}, "no database"),
        ({"database": "d", "hosts": {}}, "non-empty"),
        ({"database": "d", "hosts": {"bad id!": "t_1"}}, "bad connection id"),
        ({"database": "d", "hosts": {"a": []}}, "no shard tables"),
        (
            {"database": "d", "hosts": {"a": {"tables": "t_1", "port": 1}}},
            "unknown keys",
        ),
        ({"database": "d;drop", "hosts": {"a": "t_1"}}, "bad database"),
        ({"database": "d", "hosts": {"a": "t_1"}, "extra": 1}, "unknown keys"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_topologies(data: object, needle: str) -> None:
    with pytest.raises(BulkscanInputError, match=needle):
        parse_topology(data)


def test_load_example_file_and_refuse_outside_paths(tmp_path: Path) -> None:
    base = ROOT / "include"
    topo = load_topology("shards.json", base_dir=base)
    assert len(topo.tables) == 128 and len(topo.hosts) == 8
    with pytest.raises(BulkscanInputError, match="outside"):
        load_topology("../pytest.ini", base_dir=base)
    with pytest.raises(BulkscanInputError, match="not found"):
        load_topology("nope.json", base_dir=base)
    inline = load_topology('{"database": "d", "hosts": {"a": "t_1-2"}}', base_dir=base)
    assert [t.table for t in inline.tables] == ["t_1", "t_2"]


def test_unknown_connection_ids_named() -> None:
    topo = parse_topology({"database": "d", "hosts": {"a": "t_1", "b": "t_2", "c": "t_3"}})
    check_connections(topo, ["a", "b", "c", "z"])
    with pytest.raises(BulkscanInputError, match="'b', 'c'"):
        check_connections(topo, ["a"])


def test_group_tables() -> None:
    assert group_tables(["a", "b", "c"], 2) == [("a", "b"), ("c",)]
    assert group_label("h", ["t_000", "t_003"]) == "h / t_000..t_003"
    with pytest.raises(BulkscanInputError):
        group_tables(["a"], 0)


def _topo() -> object:
    return parse_topology({"database": "d", "hosts": {"a": "t_000-004", "b": "t_005-006"}})


def _plans() -> dict[tuple[str, str], list[Chunk] | None]:
    return {
        ("a", "t_000"): [Chunk(0, 1, 100, 99)],
        ("a", "t_001"): [Chunk(0, 1, 50, 49), Chunk(1, 50, 90, 40), Chunk(2, 90, 200, 30)],
        ("a", "t_002"): [],  # empty table
        ("a", "t_003"): None,  # host could not be planned: whole table, planned when it runs
        ("a", "t_004"): [Chunk(0, 5, 9, 4)],
        ("b", "t_005"): [Chunk(0, 1, 3, 2)],
        ("b", "t_006"): [Chunk(0, 1, 3, 2)],
    }


def _check_units(units: list[ShardUnit]) -> None:
    indexes = [i.index for u in units for i in u.items]
    assert sorted(indexes) == list(range(len(indexes))) == list(range(9))  # 7 tables, one of them in 3 chunks
    for u in units:
        assert ShardUnit.from_dict(json.loads(json.dumps(u.as_dict()))) == u


def test_build_units_one_task_per_table_and_per_chunk() -> None:
    units = build_units(_topo(), _plans(), group_size=1)  # type: ignore[arg-type]
    labels = [u.label for u in units]
    # round-robin over hosts: host b's work starts early, not after all of host a
    assert labels[:2] == ["a / t_000", "b / t_005"]
    assert sorted(labels) == sorted(
        [
            "a / t_000",
            "a / t_001 ids 1-49",
            "a / t_001 ids 50-89",
            "a / t_001 ids 90-199",
            "a / t_002",
            "a / t_003",
            "a / t_004",
            "b / t_005",
            "b / t_006",
        ]
    )
    _check_units(units)


def test_build_units_groups_pack_tables_and_chunks_evenly_per_host() -> None:
    units = build_units(_topo(), _plans(), group_size=3)  # type: ignore[arg-type]
    # host a: 7 items (t_001 counts 3) -> 3 units of 3, 2, 2 in table order; host b: one unit of 2
    assert [u.label for u in units] == [
        "a / t_000..t_001",
        "b / t_005..t_006",
        "a / t_001..t_002",
        "a / t_003..t_004",
    ]
    assert [len(u.items) for u in units] == [3, 2, 2, 2]
    assert all(len({i.table for i in u.items}) <= 2 for u in units)
    _check_units(units)
    whole = build_units(_topo(), {("a", "t_001"): _plans()[("a", "t_001")]}, group_size=3)  # type: ignore[arg-type]
    chunks_only = ShardUnit("a", "d", tuple(i for u in whole for i in u.items if i.table == "t_001"))
    assert chunks_only.label == "a / t_001 ids 1-199"  # the chunks of one table: their whole span


def test_build_units_packs_each_host_into_a_few_tasks_by_default() -> None:
    """The DAG's default (tables_per_task empty): each host's items go into `units_per_host` units of
    near-equal counts (a task costs about half a second of scheduling on a real stack)."""
    units = build_units(_topo(), _plans(), group_size=None, units_per_host=2)  # type: ignore[arg-type]
    per_host: dict[str, list[int]] = {}
    for u in units:
        per_host.setdefault(u.conn_id, []).append(len(u.items))
    assert per_host == {"a": [4, 3], "b": [1, 1]}  # host a: 7 items -> 2 units; host b: 2 items -> 2 units
    _check_units(units)
    one = build_units(_topo(), _plans(), group_size=None, units_per_host=1)  # type: ignore[arg-type]
    assert [len(u.items) for u in one] == [7, 2]


def _answers(units: list[ShardUnit]) -> list[Answer]:
    return [Answer(u.conn_id, i.table, i.index, i.parts, 10) for u in units for i in u.items]


def test_reconcile_exactly_once() -> None:
    topo = _topo()
    plans = {("a", "t_001"): [Chunk(0, 1, 50, 49), Chunk(1, 50, 90, 40)]}
    units = build_units(topo, plans, group_size=2)  # type: ignore[arg-type]
    answers = _answers(units)
    rows = reconcile(topo, units, answers)  # type: ignore[arg-type]
    assert rows["a / t_001"] == 20 and rows["b / t_006"] == 10 and len(rows) == 7

    one_chunk_missing = [a for a in answers if not (a.table == "t_001" and a.index == 1)]
    with pytest.raises(ReconcileError, match=r"no answer from: a / t_001"):
        reconcile(topo, units, one_chunk_missing)  # type: ignore[arg-type]
    with pytest.raises(ReconcileError, match="answered twice"):
        reconcile(topo, units, [*answers, answers[0]])  # type: ignore[arg-type]
    with pytest.raises(ReconcileError, match="unexpected answer"):
        reconcile(topo, units, [*answers, Answer("b", "t_000", 0, 1, 1)])  # type: ignore[arg-type]
    single = build_units(topo, plans, group_size=1)  # type: ignore[arg-type]
    without_t000 = [u for u in single if all(i.table not in ("t_000", "t_002") for i in u.items)]
    with pytest.raises(ReconcileError, match=r"not planned \(appeared after the plan\?\): a / t_000, a / t_002"):
        reconcile(topo, without_t000, answers)  # type: ignore[arg-type]


# The user's own fleet, exactly as seed 001 writes it (hosts are IPs; '096-0111' means 96..111).
SEED_TBLES = {
    "192.168.1.01": "table_000-015",
    "192.168.1.02": "table_016-031",
    "192.168.1.03": "table_032-047",
    "192.168.1.04": "table_048-063",
    "192.168.1.05": "table_064-079",
    "192.168.1.06": "table_080-095",
    "192.168.1.07": "table_096-0111",
    "192.168.1.08": "table_112-0127",
}


@pytest.mark.parametrize("spelling", ["{:03d}", "{}"], ids=["padded", "unpadded"])
def test_the_seed_topology_resolves_to_128_tables_as_the_servers_spell_them(spelling: str) -> None:
    """Whatever padding the servers use (table_096 or the seed script's own table_96), 8 x 16 tables."""
    topo = parse_topology({"database": "shop", "hosts": SEED_TBLES})
    existing = {f"table_{spelling.format(n)}" for n in range(128)} | {"other", "table_x"}
    resolved = [resolve_host(h, existing) for h in topo.hosts]
    names = [t for h in resolved for t in h.tables]
    assert len(names) == len(set(names)) == 128
    assert set(names) == existing - {"other", "table_x"}
    seventh = resolved[6].tables
    assert seventh == tuple(f"table_{spelling.format(n)}" for n in range(96, 112))
    assert all(h.admits(t) for h in resolved for t in h.tables)
    assert not resolved[0].admits(f"table_{spelling.format(16)}")  # host 2's table is not host 1's


def test_a_number_spelled_twice_on_the_host_is_ambiguous() -> None:
    (host,) = parse_topology({"database": "d", "hosts": {"h": "table_096-0111"}}).hosts
    existing = {f"table_{n:03d}" for n in range(96, 112)} | {"table_97"}
    with pytest.raises(BulkscanInputError, match=r"ambiguous.*table_097 and table_97 are both table 97"):
        resolve_host(host, existing)


def test_a_missing_table_of_a_range_is_named() -> None:
    (host,) = parse_topology({"database": "d", "hosts": {"h": "table_096-0111"}}).hosts
    existing = {f"table_{n:03d}" for n in range(96, 112)} - {"table_100"}
    with pytest.raises(BulkscanInputError, match=r"host 'h' \(d\): 1 topology table\(s\) missing in d: table_100"):
        resolve_host(host, existing)


def test_patterns_discover_tables_in_natural_order() -> None:
    topo = parse_topology(
        {
            "database": "d",
            "hosts": {
                "a": {"tables": {"like": "orders\\_%"}},
                "b": {"tables": [{"regex": "^t_[0-9]+$"}, "extra"]},
            },
        }
    )
    a, b = topo.hosts
    assert a.discovers and a.tables == ()
    existing = {"orders_2", "orders_10", "orders_1", "ordersX1", "t_10", "t_9", "t_x", "extra"}
    assert resolve_host(a, existing).tables == ("orders_1", "orders_2", "orders_10", "ordersX1")[:3]
    assert resolve_host(b, existing).tables == ("t_9", "t_10", "extra")
    assert b.admits("t_123") and not b.admits("t_x") and b.admits("extra")
    with pytest.raises(BulkscanInputError, match="missing in d: any table matching like"):
        resolve_host(a, {"t_1"})


@pytest.mark.parametrize(
    ("tables", "needle"),
    [
        ({"glob": "t*"}, "a table pattern is"),
        ({"regex": "t_[0-9"}, "bad table regex"),
        ({"like": ""}, "non-empty string"),
    ],
)
def test_bad_patterns_are_refused(tables: Any, needle: str) -> None:
    with pytest.raises(BulkscanInputError, match=needle):
        parse_topology({"database": "d", "hosts": {"h": {"tables": tables}}})


def test_a_table_declared_twice_in_two_spellings_is_refused() -> None:
    (host,) = parse_topology({"database": "d", "hosts": {"h": ["table_000-015", "table_15"]}}).hosts
    with pytest.raises(BulkscanInputError, match="declared twice: table_15"):
        resolve_host(host, {f"table_{n}" for n in range(16)})
