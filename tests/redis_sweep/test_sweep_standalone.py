"""A standalone Redis (no cluster) is a one-node sweep: same script, same exactly-once guarantees."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bulkscan.core.sweep import APPLIED, SweepSpec
from bulkscan.jobs.redis_sweep.rules import expected_after
from bulkscan.redisnodes.audit import merge_audits
from bulkscan.redisnodes.connect import RedisSettings, discover
from bulkscan.redisnodes.mopup import mop_up
from bulkscan.redisnodes.sweeper import sweep_node

pytestmark = pytest.mark.integration
PORT = 7010


@pytest.fixture(scope="module")
def standalone() -> Iterator[redis.Redis]:
    workdir = tempfile.mkdtemp(prefix="bulkscan-standalone-", dir="/tmp")
    proc = subprocess.Popen(
        ["redis-server", "--port", str(PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=PORT)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    try:
        yield client
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def test_standalone_server_is_one_node(standalone: redis.Redis, tmp_path: Path) -> None:
    standalone.flushall()
    before = {f"sweep:{i}".encode(): (str(i % 5 - 1).encode(), b"10") for i in range(3000)}
    pipe = standalone.pipeline(transaction=False)
    for k, (f1, f2) in before.items():
        pipe.hset(k, mapping={"field_1": f1, "field_2": f2})
    pipe.execute()
    settings = RedisSettings(port=PORT)
    plan = discover(settings).plan()
    assert [p["label"] for p in plan] == [f"127.0.0.1:{PORT} (standalone)"]
    spec = SweepSpec(pattern="sweep:*", scan_count=100)
    first = sweep_node(settings, plan[0], spec, "solo", tmp_path)
    again = sweep_node(settings, plan[0], spec, "solo", tmp_path)
    assert mop_up(settings, plan, spec, "solo", tmp_path)["rounds"] == 0
    truth = {k: expected_after(f1, f2) for k, (f1, f2) in before.items()}
    applied = {k: v for k, (s, v) in truth.items() if s == APPLIED}
    assert first["applied"] == len(applied) and again["applied"] == 0 and again["done_before"] == len(applied)
    for k, (_f1, f2) in before.items():
        want = str(applied[k]).encode() if k in applied else f2
        assert standalone.hget(k, "field_2") == want
    _, rows = merge_audits(tmp_path, "solo")
    assert rows == {k.decode(): (int(before[k][0]), v) for k, v in applied.items()}
