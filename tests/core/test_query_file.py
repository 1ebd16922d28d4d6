"""The user's per-shard query file: loaded and checked before any query runs (no database)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bulkscan.core import sqlfiles
from bulkscan.core.processor_loader import load_processor
from bulkscan.core.processors import SqlFileAggregate
from bulkscan.core.sqlfiles import Fragment, user_query
from bulkscan.errors import BulkscanError, BulkscanInputError


def test_example_file_loads_renders_and_binds() -> None:
    q = user_query("shard_query_example.sql", {"min_amount": 100})
    sql = q.render(Fragment("`db`.`table_017`"), Fragment("`id` >= %(bulkscan_lo)s AND `id` < %(bulkscan_hi)s"))
    assert "FROM `db`.`table_017`" in sql and "`id` >= %(bulkscan_lo)s" in sql and "{" not in sql
    assert q.bind() == {"min_amount": 100}
    assert q.bind(5, 9) == {"min_amount": 100, "bulkscan_lo": 5, "bulkscan_hi": 9}
    with pytest.raises(TypeError):
        q.render("table_017; DROP TABLE x", Fragment("1=1"))  # type: ignore[arg-type]  # raw text never fits
    proc = load_processor("sql_file", file="shard_query_example", params={"min_amount": 1})
    assert isinstance(proc, SqlFileAggregate) and proc.columns == ()


@pytest.mark.parametrize("name", ["../include/sql/shard_query_example", "a/b", "Example", "", "x.sql.sql", 7])
def test_bad_file_names_refused(name: object) -> None:
    with pytest.raises(BulkscanInputError, match="query file"):
        user_query(name, {})


def test_missing_file_refused() -> None:
    with pytest.raises(BulkscanInputError, match="not found"):
        user_query("no_such_query_file", {})


@pytest.fixture
def sql_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(sqlfiles, "SQL_DIR", tmp_path)
    sqlfiles._template.cache_clear()
    yield tmp_path
    sqlfiles._template.cache_clear()


@pytest.mark.parametrize(
    ("text", "params", "message"),
    [
        ("SELECT g, SUM(v), COUNT(*) FROM {table} GROUP BY g", {}, "placeholders"),
        ("SELECT g, SUM(v), COUNT(*) FROM {table} WHERE {range} AND {schema}.x GROUP BY g", {}, "placeholders"),
        ("DELETE FROM {table} WHERE {range}", {}, "one SELECT"),
        ("SELECT 1 FROM {table} WHERE {range}; DROP TABLE t", {}, "one SELECT"),
        ("SELECT g, 1, 1 FROM {table} WHERE {range} AND g LIKE 'a%'", {}, "literal %"),
        ("SELECT g, 1, 1 FROM {table} WHERE {range} AND v > %s", {}, "literal %"),
        ("SELECT g, 1, 1 FROM {table} WHERE {range} AND v > %(low)s", {}, "no value for low"),
        ("SELECT g, 1, 1 FROM {table} WHERE {range}", {"low": 1}, "not used by the file: low"),
        ("SELECT g, 1, 1 FROM {table} WHERE {range} AND v > %(bulkscan_lo)s", {}, "reserved"),
        ("SELECT g, 1, 1 FROM {table} WHERE {range} AND v > %(low)s", {"low": [1, 2]}, "must be a string"),
    ],
)
def test_bad_query_files_refused(sql_dir: Path, text: str, params: dict[str, object], message: str) -> None:
    (sql_dir / "q.sql").write_text(text)
    with pytest.raises(BulkscanInputError, match=message):
        user_query("q", params)


def test_literal_percent_and_comments_allowed(sql_dir: Path) -> None:
    (sql_dir / "q.sql").write_text(
        "-- counts per name prefix; 100% of rows in range\nSELECT g, SUM(v), COUNT(*) FROM {table}\n"
        "WHERE {range} AND g LIKE 'a%%' AND v >= %(low)s GROUP BY g\n"
    )
    q = user_query("q.sql", {"low": 3})
    assert q.name == "q" and "LIKE 'a%%'" in q.text and not q.text.startswith("--")


def test_wrong_result_shape_is_a_clear_error() -> None:
    proc = SqlFileAggregate("shard_query_example", {"min_amount": 0})
    proc.add_groups([("g1", 5, 2), ("g1", 1, 1)])
    assert proc.groups == {"g1": [6, 3]}
    with pytest.raises(BulkscanError, match=r"shard_query_example\.sql must return \(group, value, count\)"):
        proc.add_groups([("g1", 5)])  # type: ignore[list-item]
