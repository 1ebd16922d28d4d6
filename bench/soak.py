"""`make soak`: the issue-6 fault scenarios in a loop on the loopback CeleryExecutor stack, bounded in time.

Starts the stack, the dedicated MariaDB on 3318 and the Redis Cluster on 7301-7306 once, then runs
the scenarios round-robin until BULKSCAN_SOAK_SECONDS (default 600) have passed: two triggers at
once, MariaDB restarted mid-run, a Redis primary failed over mid-sweep, each bad input through the
REST API. lost/doubled are summed from each run's exact-result check (tests/stack/scenarios.py), and a
scenario that breaks (a run that never finishes, an unexpected error) is counted in errors=.
Everything is loopback only, and every process started here is stopped at the end.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (str(ROOT / "plugins"), str(ROOT)):
    if p not in sys.path:
        sys.path.insert(0, p)

from tests.stack import scenarios as sn  # noqa: E402
from tests.stack import stackctl as sc  # noqa: E402


def _own_disks(api: sn.AirflowApi, cluster: object) -> sn.Tally:
    """Workers with disks of their own: refused without a shared store, exact once it is shared."""
    tally, ev = sn.sweep_on_own_disks(api, cluster)
    if (ev["first"], ev["second"]) != ("failed", "success") or set(ev["audit_rows"]) != ev["applied_truth"]:
        raise AssertionError(f"own-disks sweep: first {ev['first']}, second {ev['second']}, {ev['refused_tasks']}")
    return tally


def _worker_killed(api: sn.AirflowApi) -> sn.Tally:
    """A worker SIGKILLed mid-chunk: the chunk moves to the other worker, the result stays exact."""
    tally, ev = sn.worker_killed(api)
    if ev["state"] != "success" or ev["chunk5_host"] == ev["victim"] or ev["restarted"] != 0:
        raise AssertionError(f"worker-sigkill: {ev}")
    return tally


def main() -> int:
    budget = float(os.environ.get("BULKSCAN_SOAK_SECONDS", "600"))
    started = time.monotonic()
    total, errors, counts = sn.Tally(), 0, {}
    print(f"soak: starting the stack, MariaDB on {sc.MYSQL2_PORT}, Redis Cluster on {sc.CLUSTER_BASE_PORT}+",
          flush=True)  # fmt: skip
    api = sc.start()
    cluster = None
    try:
        sn.mysql2("start")
        cluster = sn.start_cluster()
        steps: list[tuple[str, Callable[[], sn.Tally]]] = [
            ("two-triggers", lambda: sn.concurrent_triggers(api)[0]),
            ("mysql-restart", lambda: sn.mysql_restart(api)[0]),
            ("redis-failover", lambda: sn.redis_failover(api, cluster)[0]),
            ("own-disks-sweep", lambda: _own_disks(api, cluster)),
            ("worker-sigkill", lambda: _worker_killed(api)),
            *[(f"bad-input:{case}", lambda case=case: sn.bad_input_via_api(api, case)[0]) for case in sn.BAD_INPUT],
        ]
        i, loop_start = 0, time.monotonic()  # the budget counts from here: setup is not soak time
        while time.monotonic() - loop_start < budget or i < len(steps):  # at least one full round
            name, step = steps[i % len(steps)]
            i += 1
            t0 = time.monotonic()
            try:
                tally = step()
            except Exception:  # noqa: BLE001 - a broken scenario is reported and counted, the soak goes on
                errors += 1
                print(f"soak: {name} ERROR\n{traceback.format_exc(limit=3)}", flush=True)
                continue
            total.add(tally)
            counts[name] = counts.get(name, 0) + 1
            print(f"soak: {name} runs={tally.runs} lost={tally.lost} doubled={tally.doubled} "
                  f"({time.monotonic() - t0:.0f}s) {'; '.join(tally.notes)}", flush=True)  # fmt: skip
    finally:
        if cluster is not None:
            cluster.stop()
        sn.mysql2("stop")
        sc.stop()
    scenarios = sum(counts.values())
    print(f"soak: {dict(counts)}")
    print(f"BENCH faults scenarios={scenarios} kinds={len(counts)} runs={total.runs} lost={total.lost} "
          f"doubled={total.doubled} errors={errors} seconds={time.monotonic() - started:.0f}")  # fmt: skip
    return 0 if total.lost == total.doubled == errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
