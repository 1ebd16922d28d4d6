"""The server-side page script (include/redis/sweep_page.lua): loaded once per node, one call per page."""

from __future__ import annotations

import hashlib
import uuid
from functools import cache
from typing import Any

import redis

from bulkscan.core.paths import LUA_DIR
from bulkscan.core.sweep import SweepSpec, validate_run_token
from bulkscan.errors import BulkscanError


def run_marker(run_token: str) -> str:
    """What the marker field stores for a run: the first 16 hex digits of the token's SHA-1."""
    return hashlib.sha1(run_token.encode()).hexdigest()[:16]


@cache
def script_text() -> str:
    return (LUA_DIR / "sweep_page.lua").read_text()


class PageScript:
    """Runs one page of keys through the script on one node and returns one status line per key."""

    def __init__(self, spec: SweepSpec, run_token: str) -> None:
        self.text = script_text()
        self.sha = hashlib.sha1(self.text.encode()).hexdigest()
        # The marker names the run by a short digest of its token: 16 hex characters per key instead of
        # a full "<dag>/<run id>" (tens of bytes per key add up to gigabytes on big clusters).
        run_id = run_marker(validate_run_token(run_token))
        self.fields = (spec.source_field, spec.target_field, spec.marker_field, run_id)
        self.suffix = f":{spec.fold}" if spec.fold else ""  # the script's fold (move / replay), see the .lua
        self.new_pass()

    def new_pass(self) -> None:
        """A fresh pass id: keys this pass applies and meets again are SCAN duplicates ("S"), keys an
        earlier pass or attempt applied come back "D" with their stored values (rows for the audit)."""
        self.args = (*self.fields, uuid.uuid4().hex[:8])

    def run_scan(
        self, client: redis.Redis, cursor: int, spec: SweepSpec
    ) -> tuple[int, list[int], bytes, list[tuple[bytes, bytes]]]:
        """One SCAN step run by the script on the node itself, and its page applied: one round trip.
        Returns (next cursor, counts "A D M Z N I T O W S", rendered audit rows, [(key, line)] left to
        the client: keys needing CSV quoting, keys to redirect)."""
        scan = ("scan" + self.suffix, cursor, spec.pattern, spec.scan_count, spec.key_type)
        try:
            reply = client.evalsha(self.sha, 0, *self.args, *scan)
        except redis.exceptions.NoScriptError:
            client.script_load(self.text)
            reply = client.evalsha(self.sha, 0, *self.args, *scan)
        rest = reply[3:]
        return (
            int(reply[0]),
            [int(x) for x in reply[1].split()],
            reply[2],
            list(zip(rest[::2], rest[1::2], strict=False)),
        )

    def run_page(self, client: redis.Redis, keys: list[bytes], asking: bool = False) -> list[bytes]:
        """One EVALSHA for a page of keys listed by the client (keys passed undeclared)."""
        try:
            reply = self._call(client, keys, asking)
        except redis.exceptions.NoScriptError:
            client.script_load(self.text)
            reply = self._call(client, keys, asking)
        return self._lines(reply, len(keys))

    def _call(self, client: redis.Redis, keys: list[bytes], asking: bool) -> Any:
        if not asking:
            return client.evalsha(self.sha, 0, *self.args, "keys" + self.suffix, *keys)
        pipe = client.pipeline(transaction=False)
        pipe.execute_command("ASKING")
        pipe.evalsha(self.sha, 0, *self.args, "keys" + self.suffix, *keys)
        return pipe.execute(raise_on_error=True)[1]

    def apply_key(self, cluster: Any, key: bytes) -> bytes:
        """One key through a cluster-aware client: KEYS[1] declared, so MOVED/ASK are followed."""
        reply = cluster.eval(self.text, 1, key, *self.args, "keys" + self.suffix)
        return self._lines(reply, 1)[0]

    @staticmethod
    def _lines(reply: Any, n: int) -> list[bytes]:
        if not isinstance(reply, bytes):
            raise BulkscanError(f"sweep script returned {type(reply).__name__}, expected text")
        lines = reply.split(b"\n") if n else []
        if len(lines) != n:
            raise BulkscanError(f"sweep script answered {len(lines)} lines for {n} keys")
        return lines
