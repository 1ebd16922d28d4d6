"""Member scoring rules and window algebra (pure: no services)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from bulkscan.errors import BulkscanInputError
from bulkscan.jobs.member_scoring.business_calendar import Calendar
from bulkscan.jobs.member_scoring.config import ScoringConfig, load_config
from bulkscan.jobs.member_scoring.rules import (
    Step,
    affected_action_days,
    classify_day,
    leaving_day,
    window_bounds,
)

ROOT = Path(__file__).resolve().parents[2]
BASE = {
    "window_days": 90,
    "tiers": [
        {"name": "basic"},
        {"name": "silver", "min_total": 300},
        {"name": "gold", "min_total": 1000},
    ],
    "actions": {"coupon": {"min_day_score": 100}, "reward": {"tiers": ["gold"]}},
}


def cfg(**over: object) -> ScoringConfig:
    return ScoringConfig.from_dict({**BASE, **over})


def test_shipped_configuration_loads() -> None:
    c = load_config(ROOT / "include" / "scoring.yaml")
    assert c.window_days == 90
    assert c.tier_names[0] == "basic" and len(c.tiers) >= 2
    assert len(c.digest) == 16


@pytest.mark.parametrize(
    "over,message",
    [
        ({"window_days": 0}, "window_days"),
        ({"window_days": "90"}, "window_days"),
        ({"tiers": []}, "at least one tier"),
        ({"tiers": [{"name": "basic", "min_total": 0}]}, "floor"),
        ({"tiers": [{"name": "basic"}, {"name": "silver"}]}, "integer min_total"),
        (
            {
                "tiers": [
                    {"name": "basic"},
                    {"name": "a", "min_total": 5},
                    {"name": "b", "min_total": 5},
                ]
            },
            "increase",
        ),
        ({"tiers": [{"name": "basic"}, {"name": "basic", "min_total": 5}]}, "unique"),
        ({"tiers": [{"name": "Gold'; --"}]}, "must match"),
        ({"actions": {"reward": {"tiers": ["diamond"]}}}, "unknown tiers"),
        ({"actions": {"coupon": {"min_day_score": "x"}}}, "integer"),
        ({"actions": {"sms": True}}, "actions"),
        ({"extra": 1}, "unknown scoring configuration keys"),
    ],
)
def test_bad_configurations_are_refused_with_the_reason(over: dict[str, object], message: str) -> None:
    with pytest.raises(BulkscanInputError, match=message):
        cfg(**over)


def test_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(BulkscanInputError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tiers: [unclosed")
    with pytest.raises(BulkscanInputError, match="not valid YAML"):
        load_config(bad)


def test_tiers_by_threshold_including_negative_totals() -> None:
    c = cfg()
    assert [c.tier(t) for t in (-500, 0, 299, 300, 999, 1000, 10**9)] == [
        "basic",
        "basic",
        "basic",
        "silver",
        "silver",
        "gold",
        "gold",
    ]


def test_action_rules() -> None:
    c = cfg()
    assert c.actions_for(0, 1000, 1000, 3) == [
        ("upgrade", "basic", "gold"),
        ("coupon", "basic", "gold"),
        ("reward", "basic", "gold"),
    ]
    assert c.actions_for(1000, 200, 0, 0) == [("downgrade", "gold", "basic")]
    assert c.actions_for(300, 350, 50, 1) == []
    assert c.actions_for(300, 250, 150, 2) == [
        ("downgrade", "silver", "basic"),
        ("coupon", "silver", "basic"),
    ]
    no_coupon = cfg(actions={"upgrade": False, "downgrade": False})
    assert no_coupon.actions.enabled() == ()


def test_day_classification_and_refusals() -> None:
    d = date(2026, 3, 10)
    assert classify_day(d, None, None) is Step.FIRST
    assert classify_day(d, date(2026, 3, 1), date(2026, 3, 9)) is Step.FORWARD
    assert classify_day(d, date(2026, 3, 1), date(2026, 3, 12)) is Step.RERUN
    assert classify_day(d, d, d) is Step.RERUN
    with pytest.raises(BulkscanInputError, match="2026-03-08 comes next"):
        classify_day(d, date(2026, 3, 1), date(2026, 3, 7))
    with pytest.raises(BulkscanInputError, match="before the first applied day"):
        classify_day(d, date(2026, 3, 11), date(2026, 3, 20))


def test_window_algebra() -> None:
    d = date(2026, 3, 31)
    assert window_bounds(d, 90) == (d - timedelta(days=89), d)
    assert leaving_day(d, 90) == d - timedelta(days=90)
    # a day's sums count in windows day..day+W-1, so actions of day..day+W depend on them (capped at the last day)
    assert affected_action_days(d, d + timedelta(days=10), 3) == [d + timedelta(days=i) for i in range(4)]
    assert affected_action_days(d, d + timedelta(days=1), 90) == [
        d,
        d + timedelta(days=1),
    ]
    assert Calendar().day_bounds(date(2026, 12, 31)) == (  # the default calendar: UTC days
        "2026-12-31 00:00:00",
        "2027-01-01 00:00:00",
    )


def test_sql_rank_matches_python_rank() -> None:
    """The CASE expression the store uses agrees with ScoringConfig.rank (evaluated here in Python)."""
    from bulkscan.jobs.member_scoring.sqlparts import SqlParts

    c = cfg()
    expr = SqlParts(c).rank("t")
    assert expr == "CASE WHEN t >= 1000 THEN 2 WHEN t >= 300 THEN 1 ELSE 0 END"
    assert SqlParts(c).tier("r") == "ELT(r + 1, 'basic', 'silver', 'gold')"
