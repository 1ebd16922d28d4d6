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
from pathlib import Path
from typing import Any

from bulkscan.errors import BulkscanInputError
from bulkscan.jobs.member_scoring.business_calendar import Calendar

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
