"""Member scoring configuration: tiers, thresholds, window length and actions (pure: no I/O, no Airflow).

A member's tier is the highest tier whose ``min_total`` the window total reaches; actions are what the
day's change of tier (or the day's own points) earns. The window algebra that applies days in order
is in `rules`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bulkscan.errors import BulkscanInputError

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
ACTIONS = ("upgrade", "downgrade", "coupon", "reward")
MAX_WINDOW_DAYS = 3660


@dataclass(frozen=True)
class Tier:
    """A tier reached when the window total is at least ``min_total`` (``None``: the floor tier)."""

    name: str
    min_total: int | None


@dataclass(frozen=True)
class ActionRules:
    """Which business actions the outbox gets (each at most once per day and member)."""

    upgrade: bool = True
    downgrade: bool = True
    # A member whose points of the day reach this gets a coupon (None: no coupons).
    coupon_min_day_score: int | None = None
    # Upgrading into one of these tiers also earns a reward.
    reward_tiers: tuple[str, ...] = ()

    def enabled(self) -> tuple[str, ...]:
        """Action kinds this configuration can emit, in a stable order."""
        out = []
        if self.upgrade:
            out.append("upgrade")
        if self.downgrade:
            out.append("downgrade")
        if self.coupon_min_day_score is not None:
            out.append("coupon")
        if self.reward_tiers:
            out.append("reward")
        return tuple(out)


CreatedAt = Literal["utc", "local"]
MAX_GRACE_MINUTES = 12 * 60


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


@dataclass(frozen=True)
class FlowSource:
    """Where a day's flows are: the flow table and the business calendar that cuts it into days."""

    table: str = "t_flow"
    calendar: Calendar = field(default_factory=Calendar)


@dataclass(frozen=True)
class ScoringConfig:
    """Tiers (lowest first), the window length and the action rules, validated on construction."""

    tiers: tuple[Tier, ...]
    window_days: int = 90
    actions: ActionRules = field(default_factory=ActionRules)
    calendar: Calendar = field(default_factory=Calendar)

    def __post_init__(self) -> None:
        if not isinstance(self.window_days, int) or not 1 <= self.window_days <= MAX_WINDOW_DAYS:
            raise BulkscanInputError(
                f"window_days must be an integer in 1..{MAX_WINDOW_DAYS}, got {self.window_days!r}"
            )
        names = _check_tiers(self.tiers)
        unknown = [n for n in self.actions.reward_tiers if n not in names]
        if unknown:
            raise BulkscanInputError(f"reward_tiers name unknown tiers {unknown}; tiers are {names}")
        c = self.actions.coupon_min_day_score
        if c is not None and (not isinstance(c, int) or isinstance(c, bool)):
            raise BulkscanInputError(f"coupon min_day_score must be an integer, got {c!r}")

    # --- tiers -------------------------------------------------------------------------------
    @property
    def tier_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tiers)

    @property
    def thresholds(self) -> tuple[int, ...]:
        """min_total of tiers 1..n-1 (tier 0 is the floor)."""
        return tuple(int(t.min_total) for t in self.tiers[1:])  # type: ignore[arg-type]

    def rank(self, total: int) -> int:
        """Index of the tier a window total falls in (the reference the SQL must agree with)."""
        r = 0
        for i, m in enumerate(self.thresholds, start=1):
            if total >= m:
                r = i
        return r

    def tier(self, total: int) -> str:
        return self.tiers[self.rank(total)].name

    def actions_for(self, prev_total: int, cur_total: int, day_sum: int, day_flows: int) -> list[tuple[str, str, str]]:
        """Actions of one member on one day as (action, from_tier, to_tier): the rule the SQL implements."""
        pr, cr = self.rank(prev_total), self.rank(cur_total)
        ft, tt = self.tiers[pr].name, self.tiers[cr].name
        out: list[tuple[str, str, str]] = []
        a = self.actions
        if a.upgrade and cr > pr:
            out.append(("upgrade", ft, tt))
        if a.downgrade and cr < pr:
            out.append(("downgrade", ft, tt))
        if a.coupon_min_day_score is not None and day_flows > 0 and day_sum >= a.coupon_min_day_score:
            out.append(("coupon", ft, tt))
        if a.reward_tiers and cr > pr and tt in a.reward_tiers:
            out.append(("reward", ft, tt))
        return out

    # --- identity ----------------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        out = self._rules_dict()
        if self.calendar != Calendar():  # the default calendar leaves earlier digests as they were
            out["calendar"] = self.calendar.as_dict()
        return out

    def _rules_dict(self) -> dict[str, Any]:
        return {
            "window_days": self.window_days,
            "tiers": [{"name": t.name, "min_total": t.min_total} for t in self.tiers],
            "actions": {
                "upgrade": self.actions.upgrade,
                "downgrade": self.actions.downgrade,
                "coupon": None
                if self.actions.coupon_min_day_score is None
                else {"min_day_score": self.actions.coupon_min_day_score},
                "reward": {"tiers": list(self.actions.reward_tiers)},
            },
        }

    @property
    def digest(self) -> str:
        """Short stable hash written to the ledger, so a state can be traced to its rules."""
        raw = json.dumps(self.as_dict(), sort_keys=True).encode()
        return hashlib.sha256(raw).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoringConfig:
        """Build from the YAML/Params shape; every problem is a BulkscanInputError naming the field."""
        if not isinstance(data, Mapping):
            raise BulkscanInputError("scoring configuration must be a mapping")
        unknown = set(data) - {"window_days", "tiers", "actions", "calendar"}
        if unknown:
            raise BulkscanInputError(f"unknown scoring configuration keys: {sorted(unknown)}")
        raw_tiers = data.get("tiers")
        if not isinstance(raw_tiers, list):
            raise BulkscanInputError("'tiers' must be a list of {name, min_total}")
        tiers = []
        for t in raw_tiers:
            if not isinstance(t, Mapping) or "name" not in t or set(t) - {"name", "min_total"}:
                raise BulkscanInputError(f"bad tier entry {t!r}: expected {{name, min_total}}")
            tiers.append(Tier(name=t["name"], min_total=t.get("min_total")))
        acts = data.get("actions") or {}
        if not isinstance(acts, Mapping) or set(acts) - set(ACTIONS):
            raise BulkscanInputError(f"'actions' keys must be among {ACTIONS}, got {acts!r}")
        coupon = acts.get("coupon")
        if coupon is not None and (not isinstance(coupon, Mapping) or set(coupon) != {"min_day_score"}):
            raise BulkscanInputError("'actions.coupon' must be {min_day_score: <int>} or null")
        reward = acts.get("reward") or {}
        if not isinstance(reward, Mapping) or set(reward) - {"tiers"}:
            raise BulkscanInputError("'actions.reward' must be {tiers: [<tier name>, ...]}")
        window = data.get("window_days", 90)
        return cls(
            tiers=tuple(tiers),
            window_days=window,
            actions=ActionRules(
                upgrade=bool(acts.get("upgrade", True)),
                downgrade=bool(acts.get("downgrade", True)),
                coupon_min_day_score=None if coupon is None else coupon["min_day_score"],
                reward_tiers=tuple(reward.get("tiers") or ()),
            ),
            calendar=Calendar.from_dict(data.get("calendar")),
        )


def _check_tiers(tiers: tuple[Tier, ...]) -> list[str]:
    """Unique [a-z0-9_] names, a floor tier first, strictly increasing integer thresholds after it."""
    if not tiers:
        raise BulkscanInputError("at least one tier is needed")
    names = [t.name for t in tiers]
    for name in names:
        if not isinstance(name, str) or not _NAME.match(name):
            raise BulkscanInputError(f"tier name {name!r} must match {_NAME.pattern}")
    if len(set(names)) != len(names):
        raise BulkscanInputError(f"tier names must be unique, got {names}")
    if tiers[0].min_total is not None:
        raise BulkscanInputError(
            f"the first tier ({names[0]!r}) is the floor and takes no min_total "
            "(every member, even with a negative total, has a tier)"
        )
    last: int | None = None
    for t in tiers[1:]:
        if not isinstance(t.min_total, int) or isinstance(t.min_total, bool):
            raise BulkscanInputError(f"tier {t.name!r} needs an integer min_total, got {t.min_total!r}")
        if last is not None and t.min_total <= last:
            raise BulkscanInputError(f"tier thresholds must increase: {t.name!r} min_total={t.min_total} after {last}")
        last = t.min_total
    return names


def load_config(path: str | Path) -> ScoringConfig:
    """Read and validate the YAML configuration (include/scoring.yaml by default)."""
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except FileNotFoundError as exc:
        raise BulkscanInputError(f"scoring configuration {p} does not exist") from exc
    except yaml.YAMLError as exc:
        raise BulkscanInputError(f"scoring configuration {p} is not valid YAML: {exc}") from exc
    return ScoringConfig.from_dict(data)
