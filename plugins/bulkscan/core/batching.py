"""Adaptive batch size: steer each keyset query toward a target duration.

The idea of pt-table-checksum's --chunk-time: on a busy server rows/s drops, so the batch shrinks
and no single query runs long; on an idle one it grows and fewer round trips are paid.
"""

from __future__ import annotations

from dataclasses import dataclass

from bulkscan.errors import BulkscanInputError


@dataclass
class AdaptiveBatch:
    size: int = 10_000
    target_seconds: float = 0.5
    minimum: int = 500
    maximum: int = 200_000
    max_growth: float = 2.0

    def __post_init__(self) -> None:
        if not (0 < self.minimum <= self.size <= self.maximum):
            raise BulkscanInputError(
                f"batch sizes must satisfy 0 < minimum <= size <= maximum, got "
                f"{self.minimum} <= {self.size} <= {self.maximum}"
            )
        if self.target_seconds <= 0:
            raise BulkscanInputError(f"target query time must be positive, got {self.target_seconds}")

    def observe(self, rows: int, seconds: float) -> int:
        """Record one query's rows and duration; return the next batch size."""
        if rows <= 0:
            return self.size
        rate = rows / max(seconds, 1e-4)
        ideal = rate * self.target_seconds
        grown = min(ideal, self.size * self.max_growth)
        self.size = int(max(self.minimum, min(self.maximum, (self.size + grown) / 2)))
        return self.size
