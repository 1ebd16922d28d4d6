"""The report pages: HTML with server-drawn SVG charts (bulkscan.core.charts), one builder per DAG.

Numbers come from bulkscan's own tables (bulkscan_chunk, the scoring tables), read through the
connections the run used, and from Airflow's record of the run (task instances, XComs); nothing is
recomputed from the source data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from html import escape

from bulkscan.core import charts
from bulkscan.ui import runs
from bulkscan.ui.runs import RunInfo

STYLE = """
body{font-family:system-ui,sans-serif;margin:16px;color:#222}h1{font-size:20px}h2{font-size:16px;margin-top:24px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
td:nth-child(2),th:nth-child(2){text-align:left}.bs-note{color:#666;font-size:12px}.bs-retried-row{background:#fdf0e2}
.bs-kpi{display:inline-block;margin-right:24px}.bs-kpi b{font-size:18px;display:block}
"""


def page(title: str, body: Iterable[str]) -> str:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>" + "".join(body) + "</body></html>"
    )


def kpis(items: Sequence[tuple[str, object]]) -> str:
    return (
        "<p>"
        + "".join(
            f'<span class="bs-kpi" data-kpi="{escape(k)}"><b>{escape(str(v))}</b>{escape(k)}</span>' for k, v in items
        )
        + "</p>"
    )


def html_table(columns: Sequence[str], rows: Iterable[Sequence[object]], row_class: Callable[[int], str] = str) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        f'<tr class="{row_class(n)}">' + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>"
        for n, row in enumerate(rows)
    )
    return f'<table class="bs-table"><tr>{head}</tr>{body}</table>'


def _chunk_section(bars: list[charts.ChunkBar]) -> list[str]:
    retried = [n for n, b in enumerate(bars) if b.retried]

    def data(b: charts.ChunkBar) -> dict[str, object]:
        return {"index": b.index, "label": b.label, "rows": b.rows, "seconds": f"{b.seconds:.3f}", "tries": b.tries}

    rows = [(b.label, float(b.rows), data(b)) for b in bars]
    return [
        kpis(
            [
                ("chunks", len(bars)),
                ("rows", f"{sum(b.rows for b in bars):,}"),
                ("skew (max/mean rows)", f"{charts.skew(bars):.2f}"),
                ("retried chunks", ", ".join(f"#{bars[n].index}" for n in retried) or "none"),
            ]
        ),
        "<h2>Rows per chunk</h2>",
        charts.bar_chart(rows, "rows per chunk", marked=retried),
        "<h2>Seconds per chunk</h2>",
        charts.bar_chart([(b.label, b.seconds, {"index": b.index}) for b in bars], "seconds per chunk", " s", retried),
        "<h2>Rows per second</h2>",
        charts.bar_chart([(b.label, b.rate, {"index": b.index}) for b in bars], "rows/s per chunk", "", retried),
        '<p class="bs-note">orange: a chunk that needed more than one try</p>',
        html_table(
            ["chunk", "label", "rows", "seconds", "rows/s", "try"],
            [(b.index, b.label, f"{b.rows:,}", f"{b.seconds:.2f}", f"{b.rate:,.0f}", b.tries) for b in bars],
            lambda n: "bs-retried-row" if bars[n].retried else "",
        ),
    ]


def table_scan(run: RunInfo) -> list[str]:
    from bulkscan.jobs.table_scan.report import chunk_rows

    return _chunk_section(charts.chunk_bars(chunk_rows(run.params, run.run_key)))


def _held(stored: dict[str, object], host: str) -> charts.Interval | None:
    """When the chunk held its host slot: the runner records it in the chunk's summary ("slot")."""
    try:
        t0, t1 = json.loads(str(stored.get("summary") or "{}")).get("slot") or (None, None)
    except ValueError:
        return None
    if t0 is None or t1 is None:
        return None
    return charts.Interval(host, datetime.fromtimestamp(float(t0), UTC), datetime.fromtimestamp(float(t1), UTC))


def shard_query(run: RunInfo) -> list[str]:
    from bulkscan.jobs.shard_query.report import chunk_rows, host_cap

    stored = chunk_rows(run.params, run.run_key)
    bars = charts.chunk_bars(stored)
    intervals = [
        i
        for c, b in zip(sorted(stored, key=lambda c: int(c["chunk_index"])), bars, strict=True)
        if (i := _held(c, b.host)) is not None
    ]
    cap = host_cap(run.params)
    flight = charts.in_flight(intervals)
    return [
        *_chunk_section(bars),
        f"<h2>Queries in flight per host (cap {cap}), from when each held its host slot</h2>",
        charts.step_chart(flight, cap, "queries in flight per host"),
        html_table(
            ["host", "peak in flight", "tables"],
            [(h, max(n for _, n in steps), sum(1 for b in bars if b.host == h)) for h, steps in flight.items()],
        ),
    ]


def redis_sweep(run: RunInfo) -> list[str]:
    results = runs.xcoms(run.dag_id, run.run_id, "sweep_node")
    tries = runs.task_tries(run.dag_id, run.run_id, "sweep_node")
    nodes = []
    for m, r in sorted(results.items()):
        skipped = dict(r.get("skipped") or {})
        nodes.append(
            (
                m,
                str(r.get("label")),
                int(r.get("scanned", 0)),
                int(r.get("applied", 0)),
                int(r.get("done_before", 0)),
                skipped,
                int(r.get("pages", 0)),
                tries.get(m, (None, 1, None, 0.0)),
            )
        )
    reasons = sorted({k for n in nodes for k in n[5]})
    return [
        kpis(
            [
                ("nodes", len(nodes)),
                ("keys scanned", f"{sum(n[2] for n in nodes):,}"),
                ("applied", f"{sum(n[3] for n in nodes):,}"),
                ("skipped", f"{sum(sum(n[5].values()) for n in nodes):,}"),
            ]
        ),
        "<h2>Keys scanned per node</h2>",
        charts.bar_chart([(n[1], float(n[2]), {"node": n[1], "scanned": n[2]}) for n in nodes], "keys scanned"),
        "<h2>Keys applied per node</h2>",
        charts.bar_chart([(n[1], float(n[3]), {"node": n[1], "applied": n[3]}) for n in nodes], "keys applied"),
        html_table(
            ["map index", "node", "scanned", "applied", "done before", *reasons, "pages", "seconds", "try"],
            [
                (
                    n[0],
                    n[1],
                    f"{n[2]:,}",
                    f"{n[3]:,}",
                    f"{n[4]:,}",
                    *[n[5].get(k, 0) for k in reasons],
                    n[6],
                    f"{n[7][3]:.1f}",
                    n[7][1],
                )
                for n in nodes
            ],
        ),
    ]


def member_scoring(run: RunInfo) -> list[str]:
    from bulkscan.jobs.member_scoring.report import day_report

    planned = runs.xcoms(run.dag_id, run.run_id, "plan", key="day").get(-1)  # the DayPlan the run decided
    day = planned.get("day") if isinstance(planned, dict) else planned
    if not day:
        return ["<p>This run planned no day (it failed before its plan finished).</p>"]
    rep = day_report(run.params, date.fromisoformat(str(day)))
    applied = runs.xcoms(run.dag_id, run.run_id, "apply").get(-1) or {}
    actions: dict[str, int] = {}
    for action, _f, _t, n in rep["moves"]:
        actions[action] = actions.get(action, 0) + n
    ledger_today: dict[str, object] = next((row for row in rep["ledger"] if str(row["day"]) == str(day)), {})
    return [
        kpis(
            [
                ("day", day),
                ("members", f"{ledger_today.get('members', 0):,}"),
                ("members changed", f"{ledger_today.get('changed', 0):,}"),
                ("flows", f"{ledger_today.get('flows', 0):,}"),
                ("hours folded", rep["hours_folded"]),
                ("late flows corrected", applied.get("late_flows", 0)),
            ]
        ),
        "<h2>Members per tier (as of the last applied day)</h2>",
        charts.bar_chart([(t, float(n), {"tier": t, "members": n}) for t, n in rep["tiers"]], "members per tier"),
        "<h2>Actions of the day</h2>",
        charts.bar_chart([(a, float(n), {"action": a, "count": n}) for a, n in sorted(actions.items())], "actions"),
        html_table(["action", "from tier", "to tier", "members"], rep["moves"]),
        "<h2>Members changed, last 30 days</h2>",
        charts.line_chart([(str(r["day"]), float(r["changed"])) for r in rep["ledger"]], "members changed per day"),
        "<h2>Flows, last 30 days</h2>",
        charts.line_chart([(str(r["day"]), float(r["flows"])) for r in rep["ledger"]], "flows per day"),
    ]


BUILDERS: dict[str, Callable[[RunInfo], list[str]]] = {
    "bulkscan_table_scan": table_scan,
    "bulkscan_shard_query": shard_query,
    "bulkscan_redis_sweep": redis_sweep,
    "member_scoring": member_scoring,
}


def run_page(run: RunInfo) -> str:
    head = [
        f'<p class="bs-note">run {escape(run.run_id)}: {escape(run.state)}'
        + (f", {run.seconds:.0f} s" if run.seconds is not None else "")
        + "</p>"
    ]
    build = BUILDERS.get(run.dag_id)
    if build is None:
        return page(run.dag_id, [*head, "<p>No bulkscan report for this DAG.</p>"])
    try:
        body = build(run)
    except Exception as exc:  # noqa: BLE001 - a report that cannot be read says why, in the page
        body = [
            f'<p class="bs-error">The report could not be read: {escape(type(exc).__name__)}: {escape(str(exc))}</p>'
        ]
    return page(f"bulkscan: {run.dag_id}", [*head, *body])


RESULT_TASK = {
    "bulkscan_table_scan": ("summarize", "rows"),
    "bulkscan_shard_query": ("merge", "rows"),
    "bulkscan_redis_sweep": ("finalize", "keys_incremented"),
    "member_scoring": ("apply", "flows"),
}


def overview_page(recent: Sequence[RunInfo]) -> str:
    rows = []
    for r in recent:
        task, field = RESULT_TASK.get(r.dag_id, ("", ""))
        value = (runs.xcoms(r.dag_id, r.run_id, task).get(-1) or {}) if task else {}
        count = value.get(field) if isinstance(value, dict) else None
        link = f'<a href="run/{escape(r.dag_id)}/{escape(r.run_id)}">{escape(r.run_id)}</a>'
        rows.append(
            (
                r.dag_id,
                link,
                r.state,
                f"{count:,}" if isinstance(count, int) else "",
                f"{r.seconds:.0f}" if r.seconds is not None else "",
            )
        )
    head = "".join(f"<th>{c}</th>" for c in ("DAG", "run", "state", "rows / keys / flows", "seconds"))
    body = "".join(
        "<tr>"
        + "".join(f"<td>{v}</td>" if n == 1 else f"<td>{escape(str(v))}</td>" for n, v in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return page("bulkscan: recent runs", [f'<table class="bs-table"><tr>{head}</tr>{body}</table>'])
