"""The business calendar, read as a spec (pure): day bounds in the shop's zone, exact across
daylight-saving changes, for a created_at that holds UTC or local wall time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pendulum
import pytest

from bulkscan.errors import BulkscanInputError
from bulkscan.jobs.member_scoring.business_calendar import Calendar
from bulkscan.jobs.member_scoring.config import ScoringConfig

BERLIN = Calendar("Europe/Berlin", "utc", 30)
SHANGHAI = Calendar("Asia/Shanghai", "utc", 0)


def day_of(calendar: Calendar, stored: datetime, days: list[date]) -> list[date]:
    """Every day whose half-open bounds hold a created_at value (string comparison, as the server's)."""
    value = stored.isoformat(sep=" ")
    return [d for d in days if calendar.day_bounds(d)[0] <= value < calendar.day_bounds(d)[1]]


def test_berlin_days_are_23_and_25_hours_across_the_changes() -> None:
    assert BERLIN.hours(date(2026, 3, 29)) == 23
    assert BERLIN.hours(date(2026, 10, 25)) == 25
    assert BERLIN.hours(date(2026, 6, 1)) == 24
    assert BERLIN.day_bounds(date(2026, 3, 29)) == ("2026-03-28 23:00:00", "2026-03-29 22:00:00")
    assert BERLIN.day_bounds(date(2026, 10, 25)) == ("2026-10-24 22:00:00", "2026-10-25 23:00:00")


@pytest.mark.parametrize(
    "instant",
    [
        # either side of the spring change (01:00 UTC: 02:00 CET becomes 03:00 CEST)
        datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC),
        # either side of the autumn change (01:00 UTC: 03:00 CEST becomes 02:00 CET; 02:xx happens twice)
        datetime(2026, 10, 25, 0, 30, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 59, 59, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 0, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, 0, tzinfo=UTC),
        # either side of local midnight, before, on and after each change day
        *(
            base + delta
            for base in (
                datetime(2026, 3, 28, 23, 0, tzinfo=UTC),  # 29 Mar 00:00 CET
                datetime(2026, 3, 29, 22, 0, tzinfo=UTC),  # 30 Mar 00:00 CEST
                datetime(2026, 10, 24, 22, 0, tzinfo=UTC),  # 25 Oct 00:00 CEST
                datetime(2026, 10, 25, 23, 0, tzinfo=UTC),  # 26 Oct 00:00 CET
            )
            for delta in (timedelta(seconds=-1), timedelta(0), timedelta(seconds=1))
        ),
    ],
    ids=str,
)
def test_every_instant_is_in_exactly_one_day_its_local_date(instant: datetime) -> None:
    days = [date(2026, 3, 27) + timedelta(days=i) for i in range(4)] + [
        date(2026, 10, 23) + timedelta(days=i) for i in range(5)
    ]
    local = instant.astimezone(ZoneInfo("Europe/Berlin"))
    # created_at holds UTC
    assert day_of(BERLIN, instant.replace(tzinfo=None), days) == [local.date()]
    # created_at holds local wall time (the repeated 02:xx of 25 Oct is one wall time, in one day)
    wall = Calendar("Europe/Berlin", "local")
    assert day_of(wall, local.replace(tzinfo=None), days) == [local.date()]


def test_shanghai_closes_its_day_at_16_utc() -> None:
    days = [date(2026, 4, 1), date(2026, 4, 2)]
    assert day_of(SHANGHAI, datetime(2026, 4, 1, 15, 59, 59), days) == [date(2026, 4, 1)]
    assert day_of(SHANGHAI, datetime(2026, 4, 1, 16, 0, 0), days) == [date(2026, 4, 2)]
    assert SHANGHAI.day_bounds(date(2026, 4, 2)) == ("2026-04-01 16:00:00", "2026-04-02 16:00:00")


def test_a_scheduled_run_covers_the_day_that_closed_before_it() -> None:
    """The timetable fires at local midnight plus the grace; the run's day is the one that just closed."""
    for day in (date(2026, 3, 28), date(2026, 3, 29), date(2026, 10, 25), date(2026, 10, 26)):
        fires = BERLIN.closes_at(day)
        assert fires.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M") == "00:30"
        assert BERLIN.business_day(fires) == day
        assert BERLIN.business_day(fires.astimezone(UTC)) == day  # whatever zone Airflow hands it in
        assert BERLIN.business_day(pendulum.instance(fires.astimezone(UTC))) == day  # and as pendulum
    assert BERLIN.cron() == "30 0 * * *"
    assert Calendar("UTC", "utc", 90).cron() == "30 1 * * *"


@pytest.mark.parametrize(
    ("calendar", "needle"),
    [
        ({"timezone": "Mars/Olympus"}, "not an IANA zone"),
        ({"timezone": "Asia/Shanghai", "created_at": "server"}, "'utc' or 'local'"),
        ({"grace_minutes": -1}, "grace_minutes"),
        ({"grace_minutes": 721}, "grace_minutes"),
        ({"zone": "UTC"}, "'calendar' must be"),
    ],
)
def test_a_bad_calendar_is_refused_naming_the_field(calendar: dict[str, object], needle: str) -> None:
    with pytest.raises(BulkscanInputError, match=needle):
        ScoringConfig.from_dict({"tiers": [{"name": "basic"}], "calendar": calendar})


def test_the_default_calendar_keeps_earlier_config_digests() -> None:
    plain = ScoringConfig.from_dict({"tiers": [{"name": "basic"}]})
    explicit = ScoringConfig.from_dict({"tiers": [{"name": "basic"}], "calendar": {"timezone": "UTC"}})
    moved = ScoringConfig.from_dict({"tiers": [{"name": "basic"}], "calendar": {"timezone": "Asia/Shanghai"}})
    assert plain.digest == explicit.digest != moved.digest
