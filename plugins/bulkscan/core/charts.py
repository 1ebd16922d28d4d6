"""The run report's charts: from bulkscan's result rows to bars, lines and steps, drawn as SVG here, on
the server (the machines have no internet: nothing is fetched from a CDN, no script runs in the page).

Pure: rows in, dataclasses and SVG text out. Every drawn element carries its numbers as `data-*`
attributes and a `<title>` (the tooltip), so a reader (or a browser test) gets the exact values the
bar was drawn from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

WIDTH = 760
BAR_H = 18
GAP = 4
LEFT = 230


@dataclass(frozen=True)
class ChunkBar:
    """One mapped chunk of a run, as bulkscan_chunk stores it."""

    index: int
    label: str
    rows: int
    seconds: float
    tries: int
    host: str = ""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @property
    def retried(self) -> bool:
        return self.tries > 1


def chunk_bars(chunks: Iterable[Mapping[str, object]]) -> list[ChunkBar]:
    """bulkscan_chunk rows (chunk_index, label or source, rows_scanned, seconds, try_number) to bars, in
    chunk order. The host of a shard chunk is the part of its source before ' / '."""
    bars = []
    for c in chunks:
        source = str(c.get("source") or "")
        bars.append(
            ChunkBar(
                index=int(str(c["chunk_index"])),
                label=str(c.get("label") or source or f"chunk {c['chunk_index']}"),
                rows=int(str(c.get("rows_scanned") or 0)),
                seconds=float(str(c.get("seconds") or 0.0)),
                tries=int(str(c.get("try_number") or 1)),
                host=source.split(" / ")[0] if " / " in source else "",
            )
        )
    return sorted(bars, key=lambda b: b.index)


def skew(bars: Sequence[ChunkBar]) -> float:
    """Rows of the biggest chunk over the mean (1.0: perfectly even)."""
    if not bars:
        return 0.0
    mean = sum(b.rows for b in bars) / len(bars)
    return max(b.rows for b in bars) / mean if mean else 0.0


@dataclass(frozen=True)
class Interval:
    host: str
    start: datetime
    end: datetime


def in_flight(intervals: Iterable[Interval]) -> dict[str, list[tuple[float, int]]]:
    """Per host, the number of chunks running over time: steps (seconds since the first start, count),
    one point at every start and end."""
    by_host: dict[str, list[Interval]] = {}
    for i in intervals:
        by_host.setdefault(i.host, []).append(i)
    if not by_host:
        return {}
    t0 = min(i.start for group in by_host.values() for i in group)
    out: dict[str, list[tuple[float, int]]] = {}
    for host, group in sorted(by_host.items()):
        # ends before starts at the same instant: a slot handed over is not two at once
        events = sorted([(i.end, -1) for i in group] + [(i.start, 1) for i in group])
        level, steps = 0, [(0.0, 0)]
        for at, delta in events:
            level += delta
            steps.append(((at - t0).total_seconds(), level))
        out[host] = steps
    return out


def _svg(height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" class="bs-chart" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _number(value: float) -> str:
    """12,500 for counts, 1.73 for seconds: two decimals only where they matter."""
    return f"{value:,.0f}" if value >= 100 or float(value).is_integer() else f"{value:,.2f}"


def bar_chart(
    items: Sequence[tuple[str, float, Mapping[str, object]]], title: str, unit: str = "", marked: Iterable[int] = ()
) -> str:
    """Horizontal bars: (label, value, data attributes) each; `marked` indexes are drawn as retried."""
    marked = set(marked)
    top = max((v for _, v, _ in items), default=0) or 1
    span = WIDTH - LEFT - 110
    body = []
    for n, (label, value, data) in enumerate(items):
        y = 6 + n * (BAR_H + GAP)
        w = max(1.0, span * value / top) if value else 0.0
        attrs = " ".join(f'data-{escape(k)}="{escape(str(v))}"' for k, v in data.items())
        css = "bs-bar bs-retried" if n in marked else "bs-bar"
        fill = "#d9822b" if n in marked else "#3b7dd8"
        body.append(
            f'<g class="{css}" {attrs}><title>{escape(label)}: {_number(value)}{escape(unit)}</title>'
            f'<text x="{LEFT - 6}" y="{y + 13}" text-anchor="end" font-size="11">{escape(label[:38])}</text>'
            f'<rect x="{LEFT}" y="{y}" width="{w:.1f}" height="{BAR_H}" fill="{fill}"/>'
            f'<text x="{LEFT + w + 4:.1f}" y="{y + 13}" font-size="11">{_number(value)}{escape(unit)}</text></g>'
        )
    return _svg(12 + len(items) * (BAR_H + GAP), body, title)


def line_chart(points: Sequence[tuple[str, float]], title: str, height: int = 160) -> str:
    """A line over labelled x positions (e.g. days), each point a circle with its value."""
    if not points:
        return _svg(30, ['<text x="10" y="20" font-size="12">no data</text>'], title)
    top = max(v for _, v in points) or 1
    step = (WIDTH - 80) / max(1, len(points) - 1)
    xy = [(40 + i * step, height - 30 - (height - 50) * v / top) for i, (_, v) in enumerate(points)]
    body = ['<polyline fill="none" stroke="#3b7dd8" stroke-width="2" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y in xy) + '"/>']  # fmt: skip
    for (label, value), (x, y) in zip(points, xy, strict=True):
        body.append(
            f'<circle class="bs-point" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#3b7dd8" '
            f'data-x="{escape(label)}" data-value="{value:g}"><title>{escape(label)}: {value:,.0f}</title></circle>'
        )
    body.append(f'<text x="40" y="{height - 8}" font-size="11">{escape(points[0][0])}</text>')
    body.append(
        f'<text x="{WIDTH - 40}" y="{height - 8}" font-size="11" text-anchor="end">{escape(points[-1][0])}</text>'
    )
    return _svg(height, body, title)


def step_chart(series: Mapping[str, list[tuple[float, int]]], cap: int, title: str, height: int = 140) -> str:
    """Per host, chunks in flight over time as a step line, with the host's cap as a dashed line."""
    if not series:
        return _svg(30, ['<text x="10" y="20" font-size="12">no data</text>'], title)
    end = max(t for steps in series.values() for t, _ in steps) or 1
    top = max(cap, max(n for steps in series.values() for _, n in steps), 1)
    colors = ["#3b7dd8", "#2ca25f", "#d9822b", "#8856a7", "#e34a33", "#636363", "#1c9099", "#c51b8a"]

    def x(t: float) -> float:
        return 40 + (WIDTH - 60) * t / end

    def y(n: float) -> float:
        return height - 25 - (height - 45) * n / top

    body = [f'<line class="bs-cap" data-cap="{cap}" x1="40" x2="{WIDTH - 20}" y1="{y(cap):.1f}" y2="{y(cap):.1f}" '
            f'stroke="#999" stroke-dasharray="4 3"><title>cap {cap} per host</title></line>']  # fmt: skip
    for k, (host, steps) in enumerate(series.items()):
        pts, prev = [], 0
        for t, n in steps:
            pts += [f"{x(t):.1f},{y(prev):.1f}", f"{x(t):.1f},{y(n):.1f}"]
            prev = n
        peak = max(n for _, n in steps)
        body.append(
            f'<polyline class="bs-flight" data-host="{escape(host)}" data-peak="{peak}" fill="none" '
            f'stroke="{colors[k % len(colors)]}" stroke-width="1.5" points="{" ".join(pts)}">'
            f"<title>{escape(host)}: at most {peak} at once</title></polyline>"
        )
    body.append(f'<text x="40" y="{height - 6}" font-size="11">0 s</text>')
    body.append(f'<text x="{WIDTH - 20}" y="{height - 6}" font-size="11" text-anchor="end">{end:.0f} s</text>')
    return _svg(height, body, title)
