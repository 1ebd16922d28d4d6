"""What the run report (bulkscan.ui) shows of a scoring day: tiers, the day's actions and tier moves,
hours folded, and the ledger's last 30 days, read from the scoring tables the run wrote."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from bulkscan.jobs.member_scoring import context as ctx
from bulkscan.jobs.member_scoring.settings import ScoringSettings
from bulkscan.mysqldb.connect import cursor


def day_report(params: Mapping[str, Any], day: date) -> dict[str, Any]:
    settings = ScoringSettings.from_params(params)
    connect = ctx.scoring_connect(settings)
    store = ctx.scoring_store(settings, connect, ctx.scoring_db(settings, connect))
    order = [t.name for t in settings.config.tiers]
    with cursor(connect) as cur:
        cur.execute(store.stmt("report_tiers"))
        tiers = {str(t): int(n) for t, n in cur.fetchall()}
        cur.execute(store.stmt("report_moves"), (day,))
        moves = [(str(a), str(f), str(t), int(n)) for a, f, t, n in cur.fetchall()]
        cur.execute(store.stmt("report_ledger"), (day,))
        ledger = [
            {"day": d, "flows": int(f), "members": int(m), "changed": int(c), "actions": int(a), "runs": int(r),
             "step": str(s)}
            for d, f, m, c, a, r, s in cur.fetchall()
        ]  # fmt: skip
        cur.execute(store.stmt("report_hours"), (day,))
        hours, hour_flows = cur.fetchone() or (0, 0)
    return {
        "day": day,
        "tiers": [(name, tiers.get(name, 0)) for name in order] + [(t, n) for t, n in tiers.items() if t not in order],
        "moves": moves,
        "ledger": list(reversed(ledger)),
        "hours_folded": int(hours),
        "hour_flows": int(hour_flows),
    }
