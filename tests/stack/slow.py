"""A test processor that holds every chunk attempt a moment before scanning, so a run stays open long
enough for a fault (a restarted server, a second trigger) to land in its middle."""

from __future__ import annotations

import time
from typing import Any

from bulkscan.core.processors import AggregateByKey, ChunkContext


class SlowAggregate(AggregateByKey):
    def __init__(self, group: str, value: str, seconds: float) -> None:
        super().__init__(group, value)
        self.seconds = seconds

    def open(self, ctx: ChunkContext) -> None:
        super().open(ctx)
        time.sleep(self.seconds)


def slow_aggregate(**kwargs: Any) -> SlowAggregate:
    return SlowAggregate(**kwargs)
