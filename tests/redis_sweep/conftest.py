"""A real 6-node Redis Cluster (3 primaries + 3 replicas) on loopback ports 7001-7006 for this package.

Started once per test session with redis-server --cluster-enabled yes and redis-cli --cluster create,
torn down afterwards (data under /tmp, removed). Each test loads its own data set after a FLUSHALL and
keeps a ground truth computed from that data before any sweep runs.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

from bulkscan.core.sweep import APPLIED
from bulkscan.jobs.redis_sweep.rules import expected_after
from bulkscan.redisnodes.connect import RedisSettings
from devtools.localcluster import LocalCluster

BASE_PORT = 7001

EDGE_CASES: dict[str, dict[str, str]] = {
    "missing": {"field_2": "4"},
    "zero": {"field_1": "0", "field_2": "4"},
    "negative": {"field_1": "-3", "field_2": "4"},
    "decimal": {"field_1": "1.5", "field_2": "4"},
    "text": {"field_1": "abc", "field_2": "4"},
    "leading_zero": {"field_1": "007", "field_2": "4"},
    "too_big": {"field_1": "9223372036854775808", "field_2": "4"},
    "target_text": {"field_1": "5", "field_2": "x"},
    "overflow": {"field_1": "5", "field_2": str(2**63 - 3)},
    "no_target": {"field_1": "6"},
    "big_values": {"field_1": "1000000000000000", "field_2": "123456789012345678"},
}


@dataclass
class Dataset:
    """Keys loaded for one test, with the expected field_2 after exactly one sweep."""

    before: dict[bytes, dict[bytes, bytes]]
    truth: dict[bytes, tuple[str, int | None]]  # key -> (status, field_2 after one application)

    def applied(self) -> dict[bytes, int]:
        return {k: v for k, (s, v) in self.truth.items() if s == APPLIED and v is not None}


_SHARED: list[LocalCluster] = []


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
    """One cluster per session for every Redis sweep test (the library path and the DAG runs)."""
    if _SHARED:
        yield _SHARED[0]
        return
    cluster = LocalCluster(base_port=BASE_PORT).start()
    _SHARED.append(cluster)
    try:
        yield cluster
    finally:
        _SHARED.clear()
        cluster.stop()


@pytest.fixture
def cluster(redis_cluster: LocalCluster) -> LocalCluster:
    redis_cluster.wait_ok()
    redis_cluster.flushall()
    return redis_cluster


@pytest.fixture
def settings(cluster: LocalCluster) -> RedisSettings:
    return RedisSettings(
        host="127.0.0.1",
        port=BASE_PORT,
        cluster=True,
        startup_nodes=tuple(("127.0.0.1", p) for p in cluster.ports),
    )


def cluster_client(cluster: LocalCluster) -> redis.RedisCluster:
    return redis.RedisCluster(host="127.0.0.1", port=cluster.primaries()[0])


def _source_value(rnd: random.Random) -> str | None:
    """field_1 of a generated hash: 80% positive, then zero, negative, not a number, missing."""
    roll = rnd.random()
    if roll < 0.8:
        return str(rnd.randint(1, 1000))
    if roll < 0.85:
        return "0"
    if roll < 0.9:
        return str(-rnd.randint(1, 9))
    return "n/a" if roll < 0.95 else None


def load(cluster: LocalCluster, n: int = 12_000, seed: int = 4) -> Dataset:
    """n hashes `sweep:<i>` (mostly positive field_1, some zero/negative/text/missing), the edge cases,
    plus keys the sweep must not touch: other pattern, and a non-hash key matching the pattern."""
    rnd = random.Random(seed)
    before: dict[bytes, dict[bytes, bytes]] = {}
    for i in range(n):
        f1 = _source_value(rnd)
        h = {b"field_2": str(rnd.randint(-50, 50)).encode(), b"other": b"x"}
        if f1 is not None:
            h[b"field_1"] = f1.encode()
        before[f"sweep:{i}".encode()] = h
    for name, fields in EDGE_CASES.items():
        before[f"sweep:edge:{name}".encode()] = {k.encode(): v.encode() for k, v in fields.items()}
    # Audit rows the client must quote, and keys the audit writes with escapes (not UTF-8) or as they are.
    for odd in ('sweep:odd:"quoted",comma', "sweep:odd:ünïcode", "sweep:odd:new\nline", "sweep:odd:a|b"):
        before[odd.encode()] = {b"field_1": b"3", b"field_2": b"1"}
    for raw in (b"sweep:odd:\xff\xfe-not-utf8", b"sweep:odd:tab\tctl\x01"):
        before[raw] = {b"field_1": b"4", b"field_2": b"2"}
    rc = cluster_client(cluster)
    pipe = rc.pipeline()
    for key, h in before.items():
        pipe.hset(key, mapping=h)
    for i in range(200):
        pipe.hset(f"other:{i}", mapping={"field_1": "5", "field_2": "1"})
    pipe.set("sweep:not-a-hash", "5")
    pipe.execute()
    rc.close()
    truth = {k: expected_after(h.get(b"field_1"), h.get(b"field_2")) for k, h in before.items()}
    return Dataset(before=before, truth=truth)


def assert_exactly_once(cluster: LocalCluster, data: Dataset, marker: bytes = b"_bulkscan_sweep") -> None:
    """Every key's field_2 equals the ground truth: applied ones exactly once, others untouched; keys
    outside the pattern untouched."""
    rc = cluster_client(cluster)
    pipe = rc.pipeline()
    keys = list(data.before)
    for k in keys:
        pipe.hget(k, b"field_2")
    got = dict(zip(keys, pipe.execute(), strict=False))
    wrong = []
    for k, (status, after) in data.truth.items():
        want = str(after).encode() if status == APPLIED else data.before[k].get(b"field_2")
        if got[k] != want:
            wrong.append((k, status, data.before[k].get(b"field_2"), want, got[k]))
    assert not wrong, f"{len(wrong)} keys wrong, e.g. {wrong[:5]}"
    assert rc.hget("other:0", "field_2") == b"1" and rc.hget("other:0", marker) is None
    assert rc.get("sweep:not-a-hash") == b"5"
    rc.close()
