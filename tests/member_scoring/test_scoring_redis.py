"""Redis real-time points folded into member scoring exactly once, on a real standalone Redis (port 6391).

The producer is the Redis sweep with the fold (jobs/member_scoring/points.py), writing per-uid partials
into the same partial store as the flow chunks. Ground truth: every point the test hands to Redis is also written,
with the day it must count for, into a plain `redis_truth` table, and the independent one-query-per-day
truth (scoring_truth.py) runs over t_flow plus that table.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import redis

from bulkscan.core.chunks import Chunk
from bulkscan.jobs.member_scoring import points, rules
from bulkscan.jobs.member_scoring.rebuild import verify
from bulkscan.mysqldb.results import ChunkOutcome
from bulkscan.redisnodes.connect import RedisSettings, discover
from bulkscan.redisnodes.sweeper import SweepHooks
from tests.member_scoring.scoring_truth import actual_state, expected_state
from tests.member_scoring.test_scoring_store import DAYS, Harness, seed_all

pytestmark = pytest.mark.integration
PORT = 6391


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisSettings]:
    """A throwaway redis-server on loopback:6391, no persistence."""
    data = tempfile.mkdtemp(prefix="bs_scoring_redis_")
    proc = subprocess.Popen(
        ["redis-server", "--port", str(PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", data],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=PORT)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    try:
        yield RedisSettings(host="127.0.0.1", port=PORT)
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(data, ignore_errors=True)


class RedisHarness(Harness):
    """Harness.run_day plus one Redis producer per primary, the way the DAG's scan_redis runs."""

    def __init__(self, db: str, settings: RedisSettings, audit_dir: Path):
        super().__init__(db)
        self.settings, self.audit_dir = settings, audit_dir
        self.client = redis.Redis(port=settings.port)

    def add_points(self, uid: int, pts: int | str, counts_on: date | None) -> None:
        """Real-time points arrive (HINCRBY pending); the truth table gets them for the day they belong to."""
        if isinstance(pts, int):
            self.client.hincrby(f"points:{uid}", "pending", pts)
        else:
            self.client.hset(f"points:{uid}", "pending", pts)
        if counts_on is not None:
            self.client_sql.execute(
                f"INSERT INTO `{self.db}`.redis_truth (uid, score, created_at) VALUES (%s, %s, %s)",
                (uid, pts, f"{counts_on} 00:00:00"),
            )

    def run_redis_day(self, day: date, fail_first_attempt: bool = False) -> Any:
        step = self.store.check_next(day)
        self.runs += 1
        run_key = f"test/{day}/{self.runs}"
        from bulkscan.jobs.member_scoring.flows import DayProducer, plan_day, produce_chunk

        spec, plan = plan_day(self.connect, self.db, day, 1000, 2)
        for chunk in plan.chunks:
            produce_chunk(DayProducer(self.connect, spec, self.results, run_key), chunk)
        nodes = discover(self.settings).plan()
        sweep = rules.points_spec(day, replay=step.value == "rerun", scan_count=10)
        for i, node in enumerate(nodes):
            attempts: list[SweepHooks | None] = [None]
            if fail_first_attempt:
                attempts.insert(0, SweepHooks(after_apply=_die_after_page(2)))
            for attempt, hooks in enumerate(attempts, start=1):
                try:
                    _, groups = points.fold_node(
                        points.PointsFold(self.settings, sweep, day, self.audit_dir), node, hooks
                    )
                except RuntimeError:
                    continue  # the killed attempt: its partials never reached the store
                outcome = ChunkOutcome("member_scoring", "redis", 0, 0.0, attempt, groups=groups)  # type: ignore[arg-type]
                self.results.replace_chunk(f"{run_key}/redis", Chunk(i, 0, 0), outcome)
        return self.store.apply_day(
            day, run_key, expected_chunks=len(plan.chunks), more_producers=[(f"{run_key}/redis", len(nodes))]
        )


def _die_after_page(n: int) -> Callable[[int], None]:
    def hook(pages: int) -> None:
        if pages >= n:
            raise RuntimeError("killed mid-fold")

    return hook


@pytest.fixture
def rh(
    fresh_database: Callable[[str], str],
    mysql_root: Callable[..., Any],
    redis_server: RedisSettings,
    tmp_path: Path,
) -> RedisHarness:
    h = RedisHarness(fresh_database("bs_scoring_redis"), redis_server, tmp_path)
    h.setup()
    h.client.flushall()
    h.client_sql = mysql_root().cursor()  # type: ignore[attr-defined]
    h.client_sql.execute(f"CREATE TABLE `{h.db}`.redis_truth (uid BIGINT, score BIGINT, created_at DATETIME)")
    seed_all(h, mysql_root)
    return h


def check(h: RedisHarness, mysql_root: Callable[..., Any], days: list[date]) -> None:
    cur = mysql_root().cursor()
    want = expected_state(cur, h.db, h.store.config, days, extra=(f"`{h.db}`.redis_truth",))
    got = actual_state(cur, h.db)
    assert got["scores"] == want["scores"]
    assert got["actions"] == want["actions"]
    assert verify(h.store)["mismatches"] == 0


def test_member_only_in_redis_gets_window_total_and_tier(rh: RedisHarness, mysql_root: Callable[..., Any]) -> None:
    rh.add_points(7001, 12, DAYS[0])  # only in Redis
    rh.add_points(5, 7, DAYS[0])  # also has flows
    rh.add_points(7002, "-4", None)  # not a positive integer: stays pending, never folded
    rh.run_redis_day(DAYS[0])
    rh.add_points(7001, 25, DAYS[1])
    rh.run_redis_day(DAYS[1])
    check(rh, mysql_root, DAYS[:2])
    cur = mysql_root().cursor()
    cur.execute(f"SELECT window_total, tier FROM `{rh.db}`.member_score WHERE uid = 7001")
    assert cur.fetchone() == (37, "gold")
    for _ in range(3):  # 7001's points leave the 3-day window: drops to basic
        rh.run_redis_day(DAYS[2 + _])
    check(rh, mysql_root, DAYS[:5])
    cur.execute(f"SELECT window_total, tier FROM `{rh.db}`.member_score WHERE uid = 7001")
    assert cur.fetchone() == (0, "basic")
    assert rh.client.hgetall("points:7001")[b"applied"] == b"37"
    assert rh.client.hget("points:7001", "pending") == b"0"
    assert rh.client.hget("points:7002", "pending") == b"-4"


def test_retried_redis_producer_does_not_double_count(rh: RedisHarness, mysql_root: Callable[..., Any]) -> None:
    for uid in range(8000, 8100):  # 100 keys, pages of ~10: the first attempt dies after moving some
        rh.add_points(uid, uid % 17 + 1, DAYS[0])
    rh.run_redis_day(DAYS[0], fail_first_attempt=True)
    check(rh, mysql_root, DAYS[:1])
    for uid in range(8000, 8100):
        h = rh.client.hgetall(f"points:{uid}")
        assert (h[b"pending"], h[b"applied"]) == (b"0", str(uid % 17 + 1).encode())


def test_rerunning_days_does_not_double_count(rh: RedisHarness, mysql_root: Callable[..., Any]) -> None:
    rh.add_points(7001, 20, DAYS[0])
    rh.run_redis_day(DAYS[0])
    rh.add_points(7001, 15, DAYS[1])
    rh.run_redis_day(DAYS[1])
    # points arriving after day 1 ran belong to the next run, not to a re-run of day 1 or day 0
    rh.add_points(7001, 100, DAYS[2])
    rh.run_redis_day(DAYS[1])  # same day again: replays what it folded
    rh.run_redis_day(DAYS[0])  # an earlier day after a later one: replays too
    check(rh, mysql_root, DAYS[:2])
    assert rh.client.hget("points:7001", "pending") == b"100"
    rh.run_redis_day(DAYS[2])
    rh.run_redis_day(DAYS[2])
    check(rh, mysql_root, DAYS[:3])
    assert rh.client.hget("points:7001", "applied") == b"135"
    cur = mysql_root().cursor()
    cur.execute(f"SELECT day, score_sum FROM `{rh.db}`.flow_day_sum WHERE uid = 7001 ORDER BY day")
    assert cur.fetchall() == ((DAYS[0], 20), (DAYS[1], 15), (DAYS[2], 100))
