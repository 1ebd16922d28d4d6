"""The run report's chart data, without a browser: result rows -> bars -> SVG, each drawn element
carrying the numbers it was drawn from; in-flight steps against a brute-force count."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest

from bulkscan.core import charts

pytestmark = pytest.mark.unit
SVG = "{http://www.w3.org/2000/svg}"


def stored_rows(n: int, seed: int = 3) -> list[dict[str, object]]:
    rnd = random.Random(seed)
    return [
        {"chunk_index": i, "label": f"ids {i * 1000:,}-{i * 1000 + 999:,}" if i % 3 else None,
         "source": f"bs_{i % 2} / db.table_{i:03d}", "rows_scanned": rnd.randint(0, 50_000),
         "seconds": rnd.random() * 5, "try_number": rnd.choice([1, 1, 1, 2, 3])}
        for i in rnd.sample(range(n), n)  # stored in any order
    ]  # fmt: skip


def test_rows_become_bars_in_chunk_order_with_labels_tries_and_hosts() -> None:
    rows = stored_rows(12)
    bars = charts.chunk_bars(rows)
    assert [b.index for b in bars] == list(range(12))
    by_index = {int(str(r["chunk_index"])): r for r in rows}
    for b in bars:
        r = by_index[b.index]
        assert b.label == (r["label"] or r["source"])  # the Grid label, else the source
        assert (b.rows, b.tries) == (r["rows_scanned"], r["try_number"])
        assert b.retried == (int(str(r["try_number"])) > 1)
        assert b.host == str(r["source"]).split(" / ")[0]
        assert b.rate == pytest.approx(b.rows / b.seconds)


def test_skew_is_max_over_mean() -> None:
    bars = charts.chunk_bars([{"chunk_index": i, "rows_scanned": n, "seconds": 1} for i, n in enumerate([10, 20, 30])])
    assert charts.skew(bars) == pytest.approx(30 / 20)
    assert charts.skew([]) == 0.0


def test_bar_chart_draws_one_bar_per_item_with_its_numbers_and_marks_retried() -> None:
    bars = charts.chunk_bars(stored_rows(9))
    retried = [n for n, b in enumerate(bars) if b.retried]
    svg = charts.bar_chart([(b.label, float(b.rows), {"index": b.index, "rows": b.rows}) for b in bars], "t",
                           marked=retried)  # fmt: skip
    groups = ET.fromstring(svg).findall(f"{SVG}g")
    assert len(groups) == len(bars)
    for g, b in zip(groups, bars, strict=True):
        assert (int(g.get("data-index", "")), int(g.get("data-rows", ""))) == (b.index, b.rows)
        assert ("bs-retried" in (g.get("class") or "")) == b.retried
        widths = [float(r.get("width", "0")) for r in g.findall(f"{SVG}rect")]
        assert len(widths) == 1
    # widths are proportional to the values: the biggest bar is the longest
    top = max(range(len(bars)), key=lambda n: bars[n].rows)
    assert float(groups[top].find(f"{SVG}rect").get("width")) == max(  # type: ignore[union-attr]
        float(g.find(f"{SVG}rect").get("width"))
        for g in groups  # type: ignore[union-attr]
    )
    assert any("bs-retried" in (g.get("class") or "") for g in groups) == bool(retried)


def test_labels_are_escaped() -> None:
    svg = charts.bar_chart([("<script>&'\"", 1.0, {"label": "<b>"})], "x <y>")
    root = ET.fromstring(svg)  # still well-formed
    assert root.find(f"{SVG}g").get("data-label") == "<b>"  # type: ignore[union-attr]
    assert "<script>" not in svg


def test_in_flight_steps_match_a_brute_force_count() -> None:
    rnd = random.Random(7)
    t0 = datetime(2026, 12, 1, 12, 0, 0)
    intervals = []
    for _ in range(40):
        start = t0 + timedelta(seconds=rnd.randint(0, 100))
        intervals.append(charts.Interval(rnd.choice(["a", "b"]), start, start + timedelta(seconds=rnd.randint(1, 20))))
    series = charts.in_flight(intervals)
    origin = min(i.start for i in intervals)  # the steps count seconds from the first start
    for host, steps in series.items():
        mine = [i for i in intervals if i.host == host]
        for at, level in steps[1:]:
            when = origin + timedelta(seconds=at)
            # just after `when`: intervals that started at or before it and end after it
            brute = sum(1 for i in mine if i.start <= when < i.end)
            later = [lv for a, lv in steps if a == at][-1]  # the level after every event at this instant
            assert later == brute, (host, at, level, brute)
    peak = max(n for _, n in series["a"])
    svg = charts.step_chart(series, 3, "flight")
    lines = {p.get("data-host"): int(p.get("data-peak", "0")) for p in ET.fromstring(svg).iter(f"{SVG}polyline")}
    assert lines["a"] == peak and set(lines) == {"a", "b"}


def test_line_chart_one_point_per_day() -> None:
    points = [(f"2026-11-{d:02d}", float(d * 10)) for d in range(1, 31)]
    circles = list(ET.fromstring(charts.line_chart(points, "days")).iter(f"{SVG}circle"))
    assert [(c.get("data-x"), float(c.get("data-value", ""))) for c in circles] == points
    assert "no data" in charts.line_chart([], "empty")
