"""A real throw-away Redis Cluster on loopback (3 primaries + 3 replicas) for tests and benchmarks.

Started with `redis-server --cluster-enabled yes` and `redis-cli --cluster create --cluster-replicas 1`,
data under a temporary directory, torn down (processes stopped, files removed) by `stop()`.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis


@dataclass
class LocalCluster:
    """Six redis-server processes on `base_port`..`base_port+5`, joined into one cluster."""

    base_port: int = 7001
    size: int = 6
    host: str = "127.0.0.1"
    node_timeout_ms: int = 2000
    workdir: Path | None = None
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def ports(self) -> list[int]:
        return [self.base_port + i for i in range(self.size)]

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(host=self.host, port=port, socket_timeout=30)

    def start(self) -> LocalCluster:
        for port in self.ports:  # a leftover cluster on these ports (a killed run) is stopped first
            with contextlib.suppress(redis.RedisError):
                redis.Redis(host=self.host, port=port, socket_timeout=1).shutdown(nosave=True)
        self.workdir = Path(tempfile.mkdtemp(prefix=f"bulkscan-cluster-{self.base_port}-", dir="/tmp"))
        for port in self.ports:
            d = self.workdir / str(port)
            d.mkdir()
            cmd = [
                "redis-server",
                "--port", str(port),
                "--bind", self.host,
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(self.node_timeout_ms),
                "--dir", str(d),
                "--save", "",
                "--appendonly", "no",
                "--protected-mode", "no",
                "--logfile", str(d / "redis.log"),
            ]  # fmt: skip
            self.procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port in self.ports:
            self._wait(lambda p=port: self.client(p).ping())
        subprocess.run(
            ["redis-cli", "--cluster", "create", *[f"{self.host}:{p}" for p in self.ports],
             "--cluster-replicas", "1", "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60,
        )  # fmt: skip
        self.wait_ok()
        return self

    def wait_ok(self, timeout: float = 60) -> None:
        """Until every node reports cluster_state:ok and knows all six nodes with their roles."""

        def ok() -> bool:
            for p in self.ports:
                c = self.client(p)
                info = c.execute_command("CLUSTER", "INFO").decode()
                nodes = c.execute_command("CLUSTER", "NODES").decode().splitlines()
                if "cluster_state:ok" not in info or len(nodes) != self.size:
                    return False
                if any("handshake" in n or "fail" in n for n in nodes):
                    return False
                if sum(" slave " in f" {n.split()[2].replace(',', ' ')} " for n in nodes) != self.size // 2:
                    return False
            return True

        self._wait(ok, timeout)

    def primaries(self) -> list[int]:
        return [p for p in self.ports if self.client(p).info("replication")["role"] == "master"]

    def replicas(self) -> list[int]:
        return [p for p in self.ports if self.client(p).info("replication")["role"] == "slave"]

    def replica_of(self, primary_port: int) -> int:
        my_id = self.client(primary_port).execute_command("CLUSTER", "MYID").decode()
        for p in self.replicas():
            info = self.client(p).info("replication")
            if int(info["master_port"]) == primary_port or self._primary_id(p) == my_id:
                return p
        raise RuntimeError(f"no replica of {primary_port}")

    def _primary_id(self, port: int) -> str:
        for line in self.client(port).execute_command("CLUSTER", "NODES").decode().splitlines():
            parts = line.split()
            if "myself" in parts[2]:
                return parts[3]
        return ""

    def flushall(self) -> None:
        for p in self.primaries():
            self.client(p).flushall()

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    @staticmethod
    def _wait(check, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while True:
            try:
                if check():
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("local Redis Cluster did not come up in time")
            time.sleep(0.1)
