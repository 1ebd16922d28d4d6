"""The Airflow UI as a person uses it, in a real headless browser (Debian chromium driven by Playwright).

Log in, open bulkscan_table_scan, fill the trigger form, trigger, watch the run succeed; open a failed
run, clear ONE failed mapped task by its map index, see the run finish; a bad value in the form is
refused before anything runs. Screenshots of the key pages go to artifacts/ui/ (git-ignored).
Results are checked against a GROUP BY on the source, task states through the REST API.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bulkscan.ops.api import AirflowApi, quote
from tests.stack import scenarios as sn
from tests.stack import stackctl as sc

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # installed by scripts/ui_deps.sh when the page fixture runs
    PlaywrightTimeout = TimeoutError  # type: ignore[misc,assignment]

pytestmark = [pytest.mark.stack, pytest.mark.integration]

SHOTS = sc.ROOT / "artifacts" / "ui"
UI_RESULTS = "bs_ui_results"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
BASE = "http://127.0.0.1:28080"


@pytest.fixture(scope="module")
def page(api: AirflowApi) -> Iterator[Any]:
    """A logged-in browser page (the login form, with the stack's generated admin password)."""
    subprocess.run([str(sc.ROOT / "scripts" / "ui_deps.sh")], check=True, timeout=900)
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    user, password = next(iter(json.loads((sc.STACK_HOME / "passwords.json").read_text()).items()))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        try:
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            pg.set_default_timeout(30_000)
            pg.goto(BASE + "/", wait_until="networkidle")
            pg.wait_for_selector("input[name=username]")
            pg.fill("input[name=username]", user)
            pg.fill("input[name=password]", password)
            shot(pg, "01-login")
            pg.get_by_role("button", name="Sign in").click()
            pg.wait_for_url(re.compile(r"^(?!.*/auth/login).*$"))
            yield pg
        finally:
            browser.close()


def shot(pg: Any, name: str) -> Path:
    path = SHOTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    return path


def open_trigger_form(pg: Any) -> Any:
    pg.goto(f"{BASE}/dags/{sn.SCAN}", wait_until="load")
    pg.get_by_role("button", name="Trigger").first.click()
    dialog = pg.locator("[role=dialog][data-state=open]")
    dialog.locator("[name=element_table]").wait_for()
    return dialog


def reveal(dialog: Any, name: str) -> Any:
    """The field `name`, its section opened first as a user would: the source fields are in the open
    default section, the tuning ones in sections the form shows collapsed (one open at a time, so
    opening one closes the others: a field counts as shown only once its own section is expanded,
    not while the section it is in is still folding away)."""
    field = dialog.locator(f"[name=element_{name}]")
    trigger = field.locator("xpath=ancestor::*[@data-part='item'][1]").locator("[data-part=item-trigger]").first
    if trigger.get_attribute("aria-expanded") != "true":
        trigger.click()
    try:
        field.wait_for(state="visible", timeout=5_000)
    except PlaywrightTimeout as exc:
        raise AssertionError(f"form field {name!r} did not show after opening its section") from exc
    return field


def fill(dialog: Any, values: dict[str, Any]) -> None:
    for name, value in values.items():
        reveal(dialog, name).fill(str(value))


def wait_run_state_in_ui(pg: Any, run_id: str, state: str, name: str) -> None:
    """The run page's header badge shows the state (reload until it does, bounded)."""
    url = f"{BASE}/dags/{sn.SCAN}/runs/{quote(run_id)}"
    header = pg.locator(f"xpath=//*[normalize-space(text())='{run_id}']/..")

    def shown() -> bool:
        pg.goto(url, wait_until="load")  # not networkidle: the UI keeps polling
        try:
            header.filter(has_text=state).first.wait_for(state="attached", timeout=10_000)
        except PlaywrightTimeout:
            return False
        return True

    sc.wait(shown, sc.RUN_TIMEOUT, f"the UI to show run {run_id} {state}", every=1)
    shot(pg, name)


def latest_run(api: AirflowApi) -> dict[str, Any]:
    runs = api.get(f"/dags/{sn.SCAN}/dagRuns", order_by="-run_after", limit=1)["dag_runs"]
    return dict(runs[0])


def test_trigger_from_the_form_and_watch_it_succeed(api: AirflowApi, page: Any) -> None:
    sn.ensure_events(sn.FAULT_DB)
    api.patch(f"/dags/{sn.SCAN}", {"is_paused": False})
    before = latest_run(api)["dag_run_id"] if api.get(f"/dags/{sn.SCAN}/dagRuns", limit=1)["dag_runs"] else None
    dialog = open_trigger_form(page)
    shot(page, "02-trigger-form-defaults")
    assert dialog.get_by_role("button", name="Trigger").is_enabled(), "the form's own defaults must submit"
    fill(dialog, {"conn_id": "bs_fault_scan", "rows_per_chunk": 25_000, "results_schema": UI_RESULTS})
    shot(page, "03-trigger-form-filled")
    dialog.get_by_role("button", name="Trigger").click()
    run = sc.wait(lambda: (r := latest_run(api))["dag_run_id"] != before and r, 60, "the triggered run")
    assert run["conf"]["conn_id"] == "bs_fault_scan" and run["conf"]["rows_per_chunk"] == 25_000
    wait_run_state_in_ui(page, run["dag_run_id"], "success", "04-run-succeeded")
    assert sc.run_info(api, sn.SCAN, run["dag_run_id"])["state"] == "success"
    tally = sn.scan_tally(sn.FAULT_DB, UI_RESULTS, run["dag_run_id"])
    assert (tally.lost, tally.doubled) == (0, 0), tally.notes
    chunks = [t for (task, _), t in sc.task_instances(api, sn.SCAN, run["dag_run_id"]).items() if task == "scan_chunk"]
    assert len(chunks) == 4  # 100,000 rows / 25,000 per chunk, as typed into the form


def test_bad_value_in_the_form_is_refused(api: AirflowApi, page: Any) -> None:
    runs_before = api.get(f"/dags/{sn.SCAN}/dagRuns", limit=1)["total_entries"]
    dialog = open_trigger_form(page)
    fill(dialog, {"conn_id": "bs_fault_scan", "rows_per_chunk": -5, "table": "events; DROP TABLE events"})
    dialog.get_by_role("button", name="Trigger").click()
    page.get_by_text("Failed to Trigger Dag").first.wait_for()  # the API refused the values
    shot(page, "05-trigger-form-bad-values-refused")
    page.keyboard.press("Escape")
    assert api.get(f"/dags/{sn.SCAN}/dagRuns", limit=1)["total_entries"] == runs_before


def faulty_scan(api: AirflowApi, chunk: int, mode: str, ends: str) -> str:
    """A table-scan run whose `chunk` fails (tests.processors `mode`: "table" always, "once" on its first
    try), checked to end `ends`; the fault is removed afterwards. Returns the run id."""
    sn.ensure_events(sn.FAULT_DB)
    cur = sn.mysql(sn.FAULT_DB).cursor()
    cur.execute("CREATE TABLE IF NOT EXISTS faults (chunk_index INT PRIMARY KEY)")
    cur.execute("CREATE TABLE IF NOT EXISTS attempts (run_key VARCHAR(250), chunk_index INT, try_number INT)")
    cur.execute("REPLACE INTO faults VALUES (%s)", (chunk,))
    faulty = {"control_db": sn.FAULT_DB, "group": "user_id", "value": "amount", "mode": mode, "port": sc.MYSQL_PORT}
    conf = sn.scan_conf("bs_fault_scan", UI_RESULTS, processor="tests.processors:faulty_aggregate",
                        processor_args=faulty)  # fmt: skip
    try:
        run_id = sc.trigger(api, sn.SCAN, conf)
        assert sc.finished(api, sn.SCAN, run_id) == ends
    finally:
        cur.execute("DELETE FROM faults")
    return run_id


def test_clear_one_failed_mapped_task_by_map_index(api: AirflowApi, page: Any) -> None:
    run_id = faulty_scan(api, chunk=3, mode="table", ends="failed")  # the cause is then fixed: retry only chunk 3
    before = sc.task_instances(api, sn.SCAN, run_id)
    assert before[("scan_chunk", 3)]["state"] == "failed"
    assert {m for (t, m), ti in before.items() if t == "scan_chunk" and ti["state"] == "failed"} == {3}
    wait_run_state_in_ui(page, run_id, "failed", "06-run-failed")

    page.goto(f"{BASE}/dags/{sn.SCAN}/runs/{quote(run_id)}/tasks/scan_chunk/mapped/3", wait_until="load")
    page.get_by_text("Task Tries").wait_for()
    shot(page, "07-failed-mapped-task-3")
    page.get_by_role("button", name="Press shift+c to clear").click()
    dialog = page.locator("[role=dialog][data-state=open]")
    # chunk 3 and, downstream, the split of oversize chunks, its (unexpanded) rest task and summarize
    dialog.get_by_text("Affected Tasks: 4").wait_for()
    affected = dialog.locator("tbody tr").all_inner_texts()
    assert sorted(r.split()[0] for r in affected) == ["scan_chunk", "scan_rest", "split_oversize", "summarize"], (
        affected
    )
    assert any(r.split()[0] == "scan_chunk" and "3" in r.split() for r in affected), affected
    shot(page, "08-clear-dialog-one-map-index")
    dialog.get_by_role("button", name="Confirm").click()

    wait_run_state_in_ui(page, run_id, "success", "09-run-finished-after-clear")
    after = sc.task_instances(api, sn.SCAN, run_id)
    for (task, m), ti in after.items():
        assert ti["state"] == ("skipped" if task == "scan_rest" else "success"), (task, m)  # no chunk split
        if task == "scan_chunk" and m != 3:
            assert ti["try_number"] == before[(task, m)]["try_number"], f"chunk {m} was re-run"
    assert after[("scan_chunk", 3)]["try_number"] > before[("scan_chunk", 3)]["try_number"]
    tally = sn.scan_tally(sn.FAULT_DB, UI_RESULTS, run_id)
    assert (tally.lost, tally.doubled) == (0, 0), tally.notes


# --- the bulkscan report tab (the plugin's external view on a run, served by bulkscan.ui.app) ----------


def _chunks_stored(run_id: str) -> list[tuple[int, str, int, int]]:
    cur = sn.mysql(UI_RESULTS).cursor()
    cur.execute(
        "SELECT chunk_index, label, rows_scanned, try_number FROM bulkscan_chunk WHERE run_key = %s ORDER BY 1",
        (f"{sn.SCAN}/{run_id}",),
    )
    return [(int(i), str(label), int(n), int(t)) for i, label, n, t in cur.fetchall()]


def open_report_tab(pg: Any, dag_id: str, run_id: str) -> Any:
    """The run's page, then its "bulkscan" tab as a user clicks it; returns the report's frame."""
    pg.goto(f"{BASE}/dags/{dag_id}/runs/{quote(run_id)}", wait_until="load")
    tab = pg.locator(f"a[href$='/runs/{quote(run_id)}/plugin/bulkscan_run'], a[href$='plugin/bulkscan_run']").first
    tab.wait_for()
    tab.click()
    pg.wait_for_url(re.compile(r".*/plugin/bulkscan_run$"))
    frame = pg.frame_locator("iframe").first
    frame.locator("h1").wait_for()
    return frame


def test_report_tab_of_a_table_scan_run_draws_one_bar_per_chunk(api: AirflowApi, page: Any) -> None:
    run_id = faulty_scan(api, chunk=2, mode="once", ends="success")  # chunk 2 fails once: its bar is marked retried
    stored = _chunks_stored(run_id)
    assert len(stored) == 8 and stored[2][3] == 2
    frame = open_report_tab(page, sn.SCAN, run_id)
    rows_chart = frame.locator("svg.bs-chart").first
    bars = rows_chart.locator("g.bs-bar")
    assert bars.count() == len(stored)  # one bar per chunk
    for index, label, rows, tries in stored:
        bar = bars.nth(index)
        assert bar.get_attribute("data-label") == label  # the Grid's label of that map index
        assert int(bar.get_attribute("data-rows") or -1) == rows
        assert ("bs-retried" in (bar.get_attribute("class") or "")) == (tries > 1)
    # the same numbers as the page prints them, row by row
    cells = frame.locator("table.bs-table tr").nth(3).locator("td").all_inner_texts()  # chunk 2
    assert (cells[1], cells[2].replace(",", ""), cells[5]) == (stored[2][1], str(stored[2][2]), "2")
    labels = {m: t["rendered_map_index"] for (task, m), t in sc.task_instances(api, sn.SCAN, run_id).items()
              if task == "scan_chunk"}  # fmt: skip
    assert [label for _, label, _, _ in stored] == [labels[m] for m in range(len(stored))]
    shot(page, "10-bulkscan-report-table-scan")


def test_report_tab_of_a_scoring_day_shows_its_tier_counts(api: AirflowApi, page: Any) -> None:
    import random
    from datetime import date, datetime, timedelta

    from bulkscan.jobs.member_scoring.config import ScoringConfig
    from bulkscan.jobs.member_scoring.store import ScoringStore
    from bulkscan.mysqldb.connect import direct

    db = "bs_stack_scoring"
    config = {"window_days": 3, "tiers": [{"name": "basic"}, {"name": "silver", "min_total": 40},
              {"name": "gold", "min_total": 120}], "actions": {"coupon": {"min_day_score": 30}}}  # fmt: skip
    sn.mysql().cursor().execute(f"DROP DATABASE IF EXISTS {db}")
    ScoringStore(direct(sc.MYSQL_HOST, sc.MYSQL_PORT), db, ScoringConfig.from_dict(config)).ensure(with_flow_table=True)
    day = date(2026, 6, 1)
    rng = random.Random(11)
    start = datetime.combine(day, datetime.min.time())
    cur = sn.mysql(db).cursor()
    cur.executemany(
        "INSERT INTO t_flow (uid, score, created_at) VALUES (%s, %s, %s)",
        [(rng.randrange(1, 400), rng.randint(-5, 60), start + timedelta(seconds=rng.randrange(86400)))
         for _ in range(3_000)],
    )  # fmt: skip
    try:
        run_id = sc.trigger(api, "member_scoring", {"conn_id": db, "config": config, "day": str(day)})
        assert sc.finished(api, "member_scoring", run_id) == "success"
        cur.execute("SELECT tier, COUNT(*) FROM member_score GROUP BY tier")
        truth = {str(t): int(n) for t, n in cur.fetchall()}
        frame = open_report_tab(page, "member_scoring", run_id)
        tiers = frame.locator("svg.bs-chart").first.locator("g.bs-bar")
        shown = {tiers.nth(i).get_attribute("data-tier"): int(tiers.nth(i).get_attribute("data-members") or -1)
                 for i in range(tiers.count())}  # fmt: skip
        page_text = frame.locator("body").inner_text()
        assert {t: n for t, n in shown.items() if n} == truth, page_text[:1500]
        assert sum(shown.values()) == sum(truth.values())
        assert frame.locator("[data-kpi='flows'] b").inner_text().replace(",", "") == "3000"
        shot(page, "11-bulkscan-report-member-scoring")
    finally:
        sn.mysql().cursor().execute(f"DROP DATABASE IF EXISTS {db}")


def test_the_report_is_behind_airflows_authentication(api: AirflowApi) -> None:
    import urllib.error
    import urllib.request

    def status(path: str, token: str | None = None) -> tuple[int, str]:
        req = urllib.request.Request(BASE + path)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    run = api.get(f"/dags/{sn.SCAN}/dagRuns", order_by="-run_after", limit=1)["dag_runs"][0]["dag_run_id"]
    for path in ("/bulkscan/", f"/bulkscan/run/{sn.SCAN}/{quote(run)}"):
        assert status(path)[0] in (401, 403), path  # no session, no token
        assert status(path, "not-a-token")[0] in (401, 403), path
        code, body = status(path, api.token())
        assert code == 200 and ("<svg" in body or "recent runs" in body), (path, code, body[:300])
