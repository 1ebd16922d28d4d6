"""The business calendar of member scoring: when a business day opens and closes in the shop's zone,
and what the flow table's `created_at` holds (pure: no I/O, no Airflow)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bulkscan.errors import BulkscanInputError

CreatedAt = Literal["utc", "local"]
MAX_GRACE_MINUTES = 12 * 60
HOUR = timedelta(hours=1)
_FMT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class HourSlice:
    """One hour of a business day as `created_at` bounds: the unit an hourly fold replaces.

    `index` counts from the day's opening (0 .. 22, 23 or 24 across a daylight-saving change when
    created_at holds UTC; 0 .. 23 of wall time when it holds local time). `lo` / `hi` are half-open
    DATETIME literals; the slices of a day tile its `day_bounds` exactly.
    """

    day: date
    index: int
    lo: str
    hi: str
    label: str


@dataclass(frozen=True)
class Calendar:
    """When a business day opens and closes, and what the flow table's `created_at` holds.

    `timezone` is the IANA zone the shop closes its day in (`Asia/Shanghai`, `Europe/Berlin`);
    `created_at` is "utc" (the column holds UTC) or "local" (wall time in that zone). A day is
    [local midnight, next local midnight): 23 or 25 hours across a daylight-saving change, each
    instant in exactly one day. The run for a day starts `grace_minutes` after it closed, for late
    writers.
    """

    timezone: str = "UTC"
    created_at: CreatedAt = "utc"
    grace_minutes: int = 30

    def __post_init__(self) -> None:
        if not isinstance(self.timezone, str) or not self.timezone:
            raise BulkscanInputError(f"calendar timezone must be an IANA zone name, got {self.timezone!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise BulkscanInputError(
                f"calendar timezone {self.timezone!r} is not an IANA zone (e.g. Asia/Shanghai, Europe/Berlin)"
            ) from exc
        if self.created_at not in ("utc", "local"):
            raise BulkscanInputError(f"calendar created_at must be 'utc' or 'local', got {self.created_at!r}")
        g = self.grace_minutes
        if not isinstance(g, int) or isinstance(g, bool) or not 0 <= g <= MAX_GRACE_MINUTES:
            raise BulkscanInputError(f"calendar grace_minutes must be an integer in 0..{MAX_GRACE_MINUTES}, got {g!r}")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def identity(self) -> str:
        """What the ledger records: changing either part re-cuts every day."""
        return f"{self.timezone} (created_at {self.created_at})"

    def day_start(self, day: date) -> datetime:
        """The instant the business day opens (aware; a midnight skipped by a DST jump opens at the first
        instant after it, which is the same instant)."""
        return datetime.combine(day, time(0), tzinfo=self.zone)

    def day_bounds(self, day: date) -> tuple[str, str]:
        """Half-open `created_at` bounds of a business day, as DATETIME literals for bound parameters."""
        nxt = day + timedelta(days=1)
        if self.created_at == "local":
            return f"{day.isoformat()} 00:00:00", f"{nxt.isoformat()} 00:00:00"
        lo, hi = (self.day_start(d).astimezone(UTC).replace(tzinfo=None) for d in (day, nxt))
        return lo.isoformat(sep=" "), hi.isoformat(sep=" ")

    def hour_slices(self, day: date) -> list[HourSlice]:
        """The day cut into hours from its opening, in the `created_at` domain (see HourSlice)."""
        lo_s, hi_s = self.day_bounds(day)
        lo, hi = datetime.fromisoformat(lo_s), datetime.fromisoformat(hi_s)
        slices: list[HourSlice] = []
        start = lo
        while start < hi:
            end = min(start + HOUR, hi)
            slices.append(
                HourSlice(day, len(slices), start.strftime(_FMT), end.strftime(_FMT), self._hour_label(start))
            )
            start = end
        return slices

    def _hour_label(self, start: datetime) -> str:
        """The hour as a person in the shop reads it: local wall time, with the UTC offset when created_at
        is UTC (so the two 02:00 hours of a fall-back day read apart)."""
        if self.created_at == "local":
            return f"{start:%Y-%m-%d %H:%M}"
        local = start.replace(tzinfo=UTC).astimezone(self.zone)
        return f"{local:%Y-%m-%d %H:%M%z}"

    def hour_slice(self, day: date, index: int) -> HourSlice:
        slices = self.hour_slices(day)
        if not 0 <= index < len(slices):
            raise BulkscanInputError(
                f"hour {index} is not an hour of {day} in {self.timezone}: it has 0..{len(slices) - 1}"
            )
        return slices[index]

    def closed_hour(self, interval_end: datetime) -> HourSlice:
        """The hour an hourly run folds: the one holding the instant an hour before its data interval
        ended less the grace period (a run fired at HH:grace folds [HH-1, HH))."""
        aware = interval_end if interval_end.tzinfo else interval_end.replace(tzinfo=UTC)
        instant = datetime.fromtimestamp(aware.timestamp(), tz=UTC) - timedelta(minutes=self.grace_minutes) - HOUR
        local = instant.astimezone(self.zone)
        value = local.replace(tzinfo=None) if self.created_at == "local" else instant.replace(tzinfo=None)
        day = local.date()
        for piece in self.hour_slices(day):
            if piece.lo <= value.strftime(_FMT) < piece.hi:
                return piece
        raise BulkscanInputError(f"no hour of {day} holds {value}")  # unreachable: the slices tile the day

    def hourly_cron(self) -> str:
        """The hourly schedule in the zone: `grace_minutes` (mod 60) past every hour."""
        return f"{self.grace_minutes % 60} * * * *"

    def hours(self, day: date) -> float:
        """The day's length in hours (23, 24 or 25)."""
        nxt = self.day_start(day + timedelta(days=1)).astimezone(UTC)
        return (nxt - self.day_start(day).astimezone(UTC)).total_seconds() / 3600

    def business_day(self, interval_end: datetime) -> date:
        """The business day a run covers: the last one that had closed `grace_minutes` before its data
        interval ended (a scheduled run fires at local midnight plus the grace, so: the day before)."""
        aware = interval_end if interval_end.tzinfo else interval_end.replace(tzinfo=UTC)
        # through the timestamp: Airflow hands a pendulum DateTime, whose zone arithmetic is its own
        local = datetime.fromtimestamp(aware.timestamp(), tz=self.zone)
        return (local - timedelta(minutes=self.grace_minutes)).date() - timedelta(days=1)

    def closes_at(self, day: date) -> datetime:
        """When the run for `day` is due: its close (next local midnight) plus the grace period."""
        return self.day_start(day + timedelta(days=1)) + timedelta(minutes=self.grace_minutes)

    def cron(self) -> str:
        """The daily schedule in the zone: `grace_minutes` past local midnight."""
        return f"{self.grace_minutes % 60} {self.grace_minutes // 60} * * *"

    def as_dict(self) -> dict[str, Any]:
        return {"timezone": self.timezone, "created_at": self.created_at, "grace_minutes": self.grace_minutes}

    @classmethod
    def from_dict(cls, data: object) -> Calendar:
        if data is None:
            return cls()
        if not isinstance(data, Mapping) or set(data) - {"timezone", "created_at", "grace_minutes"}:
            raise BulkscanInputError(f"'calendar' must be {{timezone, created_at, grace_minutes}}, got {data!r}")
        return cls(
            timezone=data.get("timezone", "UTC"),
            created_at=cast(CreatedAt, data.get("created_at", "utc")),
            grace_minutes=data.get("grace_minutes", 30),
        )
