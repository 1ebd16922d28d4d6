"""Connections to single nodes and to the whole cluster, and live topology discovery (no Airflow).

The sweep talks to each primary directly (SCAN and the page script are per node), and uses a cluster
client only for keys whose slot moved away mid-sweep, where redis-py follows MOVED/ASK.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.cluster import ClusterNode, RedisCluster

from bulkscan.errors import BulkscanError, BulkscanInputError
from bulkscan.redisnodes.topology import NodeInfo, Topology, parse_cluster_nodes

_SSL_KEYS = ("ssl", "ssl_cert_reqs", "ssl_ca_certs", "ssl_keyfile", "ssl_certfile", "ssl_check_hostname")


@dataclass(frozen=True)
class RedisSettings:
    """How to reach the deployment: the entry node, credentials, and extra startup nodes."""

    host: str = "127.0.0.1"
    port: int = 6379
    username: str | None = None
    password: str | None = None
    db: int = 0
    cluster: bool = False
    startup_nodes: tuple[tuple[str, int], ...] = ()
    ssl: Mapping[str, Any] = field(default_factory=dict)
    socket_timeout: float = 30.0

    @classmethod
    def from_client(cls, client: redis.Redis | RedisCluster) -> RedisSettings:
        """From the client the redis provider's RedisHook built from the Airflow connection (a Redis, or
        a RedisCluster in cluster mode): its connection arguments, and for a cluster its own node list
        as the entry points (so an entry node that is down is skipped)."""
        if isinstance(client, RedisCluster):
            kwargs = dict(client.nodes_manager.connection_kwargs)
            nodes = tuple((n.host, int(n.port)) for n in client.get_nodes()) or tuple(
                (n.host, int(n.port)) for n in client.nodes_manager.startup_nodes.values()
            )
            host, port = nodes[0]
            cluster = True
        else:
            kwargs = dict(client.connection_pool.connection_kwargs)
            host, port, nodes, cluster = kwargs.get("host") or "127.0.0.1", int(kwargs.get("port") or 6379), (), False
        ssl = {k: kwargs[k] for k in _SSL_KEYS if k in kwargs and k != "ssl"}
        if ssl or "SSL" in getattr(kwargs.get("connection_class"), "__name__", ""):
            ssl["ssl"] = True
        return cls(
            host=host,
            port=port,
            username=kwargs.get("username"),
            password=kwargs.get("password"),
            db=int(kwargs.get("db") or 0),
            cluster=cluster,
            startup_nodes=nodes,
            ssl=ssl,
        )

    def entry_points(self) -> list[tuple[str, int]]:
        return [(self.host, self.port), *[n for n in self.startup_nodes if n != (self.host, self.port)]]

    def node_client(self, host: str, port: int, db: int | None = None) -> redis.Redis:
        """A plain client pinned to one node (no redirects followed)."""
        return redis.Redis(
            host=host,
            port=port,
            username=self.username,
            password=self.password,
            db=self.db if db is None else db,
            socket_timeout=self.socket_timeout,
            socket_connect_timeout=5,
            **dict(self.ssl),
        )

    def keys_on(self, host: str, port: int) -> int:
        """Every key one node holds (DBSIZE): an upper bound of what a sweep of it scans."""
        with closing(self.node_client(host, port)) as client:
            return int(client.dbsize())

    def cluster_client(self, topology: Topology) -> RedisCluster:
        """A cluster-aware client (follows MOVED/ASK), started from every known primary."""
        nodes = [ClusterNode(n.host, n.port) for n in topology.primaries()] or [
            ClusterNode(h, p) for h, p in self.entry_points()
        ]
        return RedisCluster(
            startup_nodes=nodes,
            username=self.username,
            password=self.password,
            socket_timeout=self.socket_timeout,
            **dict(self.ssl),
        )


def discover(settings: RedisSettings) -> Topology:
    """The live topology, asked from the first entry point that answers."""
    errors = []
    for host, port in settings.entry_points():
        client = settings.node_client(host, port, db=0)
        try:
            info = client.info("cluster")
            if not info.get("cluster_enabled"):
                role = client.info("replication").get("role")
                if role != "master":
                    raise BulkscanInputError(f"{host}:{port} is a standalone {role}, not a primary")
                return Topology(cluster=False, nodes=(NodeInfo("standalone", host, port, ("master",)),))
            if settings.db:
                raise BulkscanInputError("Redis Cluster only has database 0: remove `db` from the connection")
            # "CLUSTER", "NODES" as two arguments: redis-py then returns the raw text, not its own parse.
            text = client.execute_command("CLUSTER", "NODES").decode()
            cinfo = client.execute_command("CLUSTER", "INFO").decode()
            epoch = int(cinfo.split("cluster_current_epoch:")[1].split()[0])
            nodes = parse_cluster_nodes(text)
            # The node we asked reports its own address as seen from itself; keep the entry host for it
            # when it answers with an empty host (a fresh node before any MEET).
            fixed = [n if n.host else NodeInfo(**{**n.__dict__, "host": host}) for n in nodes]
            return Topology(cluster=True, nodes=tuple(_own_migrations(settings, fixed)), current_epoch=epoch)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            errors.append(f"{host}:{port}: {exc}")
        finally:
            client.close()
    raise BulkscanError(f"no Redis entry point answered: {'; '.join(errors)}")


def _own_migrations(settings: RedisSettings, nodes: list[NodeInfo]) -> list[NodeInfo]:
    """A node only reports its own MIGRATING/IMPORTING slots: ask every primary for its own line."""
    out = []
    for n in nodes:
        if n.is_primary and n.healthy and "myself" not in n.flags:
            client = settings.node_client(n.host, n.port, db=0)
            try:
                text = client.execute_command("CLUSTER", "NODES").decode()
                me = next((m for m in parse_cluster_nodes(text) if "myself" in m.flags), None)
                if me is not None:
                    n = NodeInfo(**{**n.__dict__, "migrating": me.migrating, "importing": me.importing})
            except (redis.ConnectionError, redis.TimeoutError):
                pass  # an unreachable primary is left as the entry node sees it
            finally:
                client.close()
        out.append(n)
    return out


def discover_stable(settings: RedisSettings, timeout: float = 30.0) -> Topology:
    """Discover until every slot has a healthy primary (a failover in progress settles first)."""
    deadline = time.monotonic() + timeout
    while True:
        topo = discover(settings)
        if not topo.uncovered_slots() or time.monotonic() > deadline:
            return topo
        time.sleep(0.2)
