"""The business calendar, read as a spec (pure): day bounds in the shop's zone, exact across
daylight-saving changes, for a created_at that holds UTC or local wall time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
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


KOLKATA = Calendar("Asia/Kolkata", "utc", 30)
BERLIN_LOCAL = Calendar("Europe/Berlin", "local", 30)


@pytest.mark.parametrize(
    ("calendar", "day", "count"),
    [
        (BERLIN, date(2026, 3, 29), 23),
        (BERLIN, date(2026, 10, 25), 25),
        (BERLIN, date(2026, 6, 1), 24),
        (BERLIN_LOCAL, date(2026, 3, 29), 24),  # wall time: 24 wall hours, 02:xx simply never happens
        (BERLIN_LOCAL, date(2026, 10, 25), 24),  # wall time: 02:xx holds two real hours
        (KOLKATA, date(2026, 3, 29), 24),
    ],
)
def test_the_hours_of_a_day_tile_its_bounds(calendar: Calendar, day: date, count: int) -> None:
    hours = calendar.hour_slices(day)
    assert len(hours) == count and [h.index for h in hours] == list(range(count))
    lo, hi = calendar.day_bounds(day)
    assert hours[0].lo == lo and hours[-1].hi == hi
    assert all(a.hi == b.lo for a, b in pairwise(hours))  # no gap, no overlap
    spans = {datetime.fromisoformat(h.hi) - datetime.fromisoformat(h.lo) for h in hours}
    assert spans == {timedelta(hours=1)}


def test_an_hours_label_is_local_wall_time_and_tells_the_repeated_hour_apart() -> None:
    labels = [h.label for h in BERLIN.hour_slices(date(2026, 10, 25))]
    assert labels[:4] == ["2026-10-25 00:00+0200", "2026-10-25 01:00+0200", "2026-10-25 02:00+0200",
                          "2026-10-25 02:00+0100"]  # fmt: skip
    assert KOLKATA.hour_slices(date(2026, 3, 29))[0].lo == "2026-03-28 18:30:00"  # half-hour zone: from midnight


@pytest.mark.parametrize(
    ("fired", "day", "index"),
    [
        # Berlin in winter, grace 30: the run at 14:30 CET folds 13:00-14:00 CET, the day's hour 13
        (datetime(2026, 1, 10, 13, 30, tzinfo=UTC), date(2026, 1, 10), 13),
        # the run at 00:30 local folds the last hour of the day before
        (datetime(2026, 1, 10, 23, 30, tzinfo=UTC), date(2026, 1, 10), 23),
        # the second 02:00 of the autumn change (01:00-02:00 UTC) is folded by the run at 02:30 UTC
        (datetime(2026, 10, 25, 2, 30, tzinfo=UTC), date(2026, 10, 25), 3),
        (pendulum.datetime(2026, 10, 25, 2, 30, tz="UTC"), date(2026, 10, 25), 3),
    ],
)
def test_a_scheduled_hourly_run_folds_the_hour_that_closed_before_it(fired: datetime, day: date, index: int) -> None:
    hour = BERLIN.closed_hour(fired)
    assert (hour.day, hour.index) == (day, index)
    assert BERLIN.hourly_cron() == "30 * * * *"


def test_an_hour_outside_the_day_is_refused() -> None:
    with pytest.raises(BulkscanInputError, match=r"hour 23 is not an hour of 2026-03-29 .*0\.\.22"):
        BERLIN.hour_slice(date(2026, 3, 29), 23)
    assert BERLIN.hour_slice(date(2026, 10, 25), 24).label == "2026-10-25 23:00+0100"


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"day": "2026-01-10", "hour": 25}, r"hour must be an integer in 0\.\.24"),
        ({"day": "2026-01-10", "hour": "3"}, r"hour must be an integer"),
        ({"hour": 3}, r"hour 3 needs a day"),
    ],
)
def test_a_bad_hour_param_is_refused_naming_it(params: dict[str, object], needle: str) -> None:
    from bulkscan.jobs.member_scoring.settings import ScoringSettings

    with pytest.raises(BulkscanInputError, match=needle):
        ScoringSettings.from_params({"conn_id": "c", **params})


def test_the_hourly_run_takes_its_hour_from_the_params_or_its_interval() -> None:
    from bulkscan.jobs.member_scoring.settings import ScoringSettings

    given = ScoringSettings.from_params({"conn_id": "c", "day": "2026-01-10", "hour": 4})
    assert (given.run_hour(None).day, given.run_hour(None).index) == (date(2026, 1, 10), 4)
    scheduled = ScoringSettings.from_params({"conn_id": "c"})
    assert scheduled.run_hour(datetime(2026, 1, 10, 5, 30, tzinfo=UTC)).index == 4  # UTC calendar, grace 30
    with pytest.raises(BulkscanInputError, match="needs an hour"):
        ScoringSettings.from_params({"conn_id": "c", "day": "2026-01-10"}).run_hour(None)
