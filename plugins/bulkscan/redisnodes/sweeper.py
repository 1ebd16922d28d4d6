"""Sweep one primary (SCAN + one script call per page) and mop up slots that moved during a sweep.

Exactly once: the script sets a per-run marker in the same atomic step as the increment, so a key seen
twice (SCAN duplicate, retried task, re-run, a key that moved to a node swept later) is applied once.
Failover: if the node stops being a primary mid-sweep, the pass restarts from cursor 0 on the primary
that took over its slots (the marker makes the repeat cheap and safe). Resharding: keys whose slot left
the node between SCAN and the script come back as "R" and are applied through the cluster client
(MOVED/ASK followed); keys that moved before their node's SCAN reached them are found by `mop_up`,
which re-lists the slots whose owner changed since the plan.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis

from bulkscan.core.sweep import (
    APPLIED,
    DONE_BEFORE,
    REDIRECT,
    SCAN_COUNT_ORDER,
    SweepCounts,
    SweepSpec,
)
from bulkscan.errors import BulkscanError
from bulkscan.redisnodes.audit import AuditWriter, StorePath
from bulkscan.redisnodes.connect import RedisSettings, discover_stable
from bulkscan.redisnodes.pagescript import PageScript
from bulkscan.redisnodes.topology import NodeInfo

log = logging.getLogger(__name__)

# Errors after which the node is asked again who serves its slots, and the pass starts over there.
RESTARTABLE: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.MasterDownError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.MovedError,
    redis.exceptions.TryAgainError,
)
MOP_UP_LABEL = "mop-up"


@dataclass
class SweepHooks:
    """Test seams: called around each page's script call (to kill, fail over or migrate mid-sweep)."""

    before_apply: Callable[[list[bytes]], None] | None = None
    after_apply: Callable[[int], None] | None = None


@dataclass(frozen=True)
class SweepOptions:
    """How one node sweep runs: test seams, who drives SCAN, how often a pass may restart elsewhere.

    `server_scan` (default): the script runs each SCAN step itself, one round trip per page. Off, the
    client SCANs and sends the page's keys to the script (two round trips; `before_apply` hooks run).
    """

    hooks: SweepHooks = field(default_factory=SweepHooks)
    server_scan: bool = True
    max_restarts: int = 10


class SweepPass:
    """One complete pass over keys on one node: script per page, redirects, counters, audit rows."""

    def __init__(self, settings: RedisSettings, script: PageScript, writer: AuditWriter, hooks: SweepHooks):
        self.settings, self.script, self.writer, self.hooks = settings, script, writer, hooks
        self.counts = SweepCounts()
        self.seen: set[bytes] = set()  # keys listed by the client (scan mode dedups in the script)
        script.new_pass()
        self._cluster: Any = None

    def page(self, client: redis.Redis, keys: list[bytes], asking: bool = False) -> None:
        """Apply a page of keys the client listed (client-side SCAN, mop-up)."""
        new = self._fresh(keys)
        if not new:
            return
        if self.hooks.before_apply:
            self.hooks.before_apply(new)
        self._record(new, self.script.run_page(client, new, asking=asking))

    def scan_page(self, client: redis.Redis, cursor: int, spec: SweepSpec) -> int:
        """One SCAN step and its page, both inside one script call on the node; returns the next cursor.
        The script renders plain keys' audit rows and counts; only odd keys come back one by one."""
        cursor, counts, block, pairs = self.script.run_scan(client, cursor, spec)
        for status, n in zip(SCAN_COUNT_ORDER, counts, strict=False):
            self.counts.add(status, n)
        self.counts.scanned += sum(counts) - counts[-1] + len(pairs)
        if block:
            self.writer.block(block, counts[0] + counts[1])
        self.counts.pages += 1
        if self.hooks.after_apply:
            self.hooks.after_apply(self.counts.pages)
        for key, line in pairs:
            self._one(key, line)
        return cursor

    def _fresh(self, keys: list[bytes]) -> list[bytes]:
        new = list(dict.fromkeys(k for k in keys if k not in self.seen))
        self.counts.duplicates += len(keys) - len(new)
        self.seen.update(new)
        self.counts.scanned += len(new)
        return new

    def _record(self, new: list[bytes], lines: list[bytes]) -> None:
        self.counts.pages += 1
        if self.hooks.after_apply:
            self.hooks.after_apply(self.counts.pages)
        for key, line in zip(new, lines, strict=False):
            self._one(key, line)

    def _one(self, key: bytes, line: bytes) -> None:
        status = line[:1].decode()
        if status == REDIRECT:
            self.counts.redirected += 1
            line = self._redirect(key)
            status = line[:1].decode()
        if status in (APPLIED, DONE_BEFORE):
            _, incr, value = line.split(b"|", 2)
            self.writer.row(key, incr, value)
        self.counts.count(status)

    def _redirect(self, key: bytes) -> bytes:
        """The key's slot moved off this node after SCAN listed it: apply it where it lives now."""
        if self._cluster is None:
            self._cluster = self.settings.cluster_client(discover_stable(self.settings))
        for _ in range(20):
            line = self.script.apply_key(self._cluster, key)
            if line != b"R":
                return line
            time.sleep(0.1)
        raise BulkscanError(f"key {key!r}: no node accepted it (slot keeps moving)")

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.close()


def _successor(settings: RedisSettings, planned: Mapping[str, Any]) -> NodeInfo:
    """The primary to sweep for a planned node: itself while it is a healthy primary, else the primary
    now serving most of its slots (its promoted replica after a failover)."""
    topo = discover_stable(settings)
    prims = topo.primaries()
    for n in prims:
        if (n.host, n.port) == (planned["host"], int(planned["port"])):
            return n
    wanted = {s for a, b in planned.get("slots", []) for s in range(a, b + 1)}
    best = max(prims, key=lambda n: len(wanted & n.slot_set()), default=None)
    if best is None or not (wanted & best.slot_set()):
        raise BulkscanError(f"no primary serves the slots of {planned['label']} any more")
    return best


def sweep_node(
    settings: RedisSettings,
    planned: Mapping[str, Any],
    spec: SweepSpec,
    run_token: str,
    store: StorePath,
    options: SweepOptions | None = None,
) -> dict[str, Any]:
    """Sweep one planned primary completely; returns its counters and audit file (small, for XCom)."""
    opts = options or SweepOptions()
    hooks, server_scan, max_restarts = opts.hooks, opts.server_scan, opts.max_restarts
    script = PageScript(spec, run_token)
    host, port = planned["host"], int(planned["port"])
    restarts, started = 0, time.monotonic()
    while True:
        writer = AuditWriter(store, run_token, planned["label"])
        sweep = SweepPass(settings, script, writer, hooks)
        client = settings.node_client(host, port)
        try:
            if planned.get("node_id") != "standalone" and client.info("replication").get("role") != "master":
                raise redis.exceptions.ReadOnlyError(f"{host}:{port} is no longer a primary")
            cursor = 0
            while True:
                if server_scan:
                    cursor = sweep.scan_page(client, cursor, spec)
                else:
                    cursor, keys = client.scan(
                        cursor, match=spec.pattern, count=spec.scan_count, _type=spec.key_type or None
                    )
                    sweep.page(client, [k if isinstance(k, bytes) else k.encode() for k in keys])
                if cursor == 0:
                    break
        except RESTARTABLE as exc:
            writer.abort()
            restarts += 1
            if restarts > max_restarts:
                raise BulkscanError(f"{planned['label']}: gave up after {restarts} restarts: {exc}") from exc
            log.warning("%s: %s; asking the cluster who serves these slots now", planned["label"], exc)
            time.sleep(0.2)
            node = _successor(settings, planned)
            host, port = node.host, node.port
            continue
        except BaseException:
            writer.abort()
            raise
        finally:
            client.close()
            sweep.close()
        path = writer.commit()
        sweep.counts.restarts = restarts
        return {
            "label": planned["label"],
            "swept": f"{host}:{port}",
            "audit": str(path),
            "audit_rows": writer.rows,
            "seconds": round(time.monotonic() - started, 3),
            **sweep.counts.to_dict(),
        }
