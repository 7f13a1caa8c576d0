"""Schedules: cron in a time zone across DST, intervals, exclusion dates, catch-up bounds."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from triggerfish.schedule import Schedule, ScheduleError, parse_exclusion_dates, rfc3339

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(tick: datetime, zone: ZoneInfo) -> str:
    return tick.astimezone(zone).isoformat()


def ticks(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    return list(schedule.ticks_between(start, end))


# ----------------------------------------------------------------------------- cron basics


def test_cron_next_after_is_strictly_after() -> None:
    schedule = Schedule.cron("*/5 * * * *")
    assert schedule.next_after(utc(2024, 1, 1, 0, 0)) == utc(2024, 1, 1, 0, 5)
    assert schedule.next_after(utc(2024, 1, 1, 0, 4, 59)) == utc(2024, 1, 1, 0, 5)
    assert schedule.previous_before(utc(2024, 1, 1, 0, 5)) == utc(2024, 1, 1, 0, 0)


def test_results_are_utc_whatever_the_input_zone() -> None:
    schedule = Schedule.cron("0 9 * * *", "America/New_York")
    tick = schedule.next_after(datetime(2024, 6, 1, 12, tzinfo=BERLIN))
    assert tick.tzinfo is UTC
    assert local(tick, NEW_YORK) == "2024-06-01T09:00:00-04:00"


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Schedule.cron("* * * * *").next_after(datetime(2024, 1, 1))


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("@hourly", utc(2024, 1, 1, 0, 30), utc(2024, 1, 1, 1)),
        ("@daily", utc(2024, 1, 1, 0, 30), utc(2024, 1, 2)),
        ("@midnight", utc(2024, 1, 1, 0, 30), utc(2024, 1, 2)),
        ("@weekly", utc(2024, 1, 1), utc(2024, 1, 7)),
        ("@monthly", utc(2024, 1, 15), utc(2024, 2, 1)),
        ("@yearly", utc(2024, 1, 15), utc(2025, 1, 1)),
        ("@annually", utc(2024, 1, 15), utc(2025, 1, 1)),
        ("@every 90s", utc(2024, 1, 1, 0, 0, 1), utc(2024, 1, 1, 0, 1, 30)),
        ("0 9 * * MON-FRI", utc(2024, 1, 5, 10), utc(2024, 1, 8, 9)),
        ("0 0 1,15 * *", utc(2024, 1, 2), utc(2024, 1, 15)),
    ],
)
def test_expressions_and_descriptors(expression: str, after: datetime, expected: datetime) -> None:
    assert Schedule.cron(expression).next_after(after) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * * * *", "expected 5 fields"),
        ("* * * *", "expected 5 fields"),
        ("@reboot", "unknown descriptor"),
        ("61 * * * *", "invalid cron expression"),
        ("0 0 30 2 *", "invalid cron expression"),
        ("@every 0s", "at least 1s"),
        ("@every soon", "invalid interval"),
    ],
)
def test_bad_expressions_are_refused(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        Schedule.cron(expression)


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ScheduleError, match="unknown time zone"):
        Schedule.cron("* * * * *", "Mars/Olympus_Mons")


def test_calendar_prefers_schedule_over_interval() -> None:
    schedule = Schedule.calendar("0 * * * *", "10s")
    assert schedule.expression == "0 * * * *" and schedule.interval is None
    assert Schedule.calendar(None, "10s").interval == timedelta(seconds=10)
    with pytest.raises(ScheduleError, match="either schedule or interval"):
        Schedule.calendar(None, None)


# ------------------------------------------------------------------------------------- DST


def test_new_york_spring_forward_skipped_time_fires_once_at_the_next_valid_instant() -> None:
    schedule = Schedule.cron("30 2 * * *", "America/New_York")
    fired = ticks(schedule, utc(2024, 3, 9), utc(2024, 3, 12))
    assert [local(t, NEW_YORK) for t in fired] == [
        "2024-03-09T02:30:00-05:00",
        "2024-03-10T03:00:00-04:00",  # 02:30 does not exist that night: clocks jump 02:00 → 03:00
        "2024-03-11T02:30:00-04:00",
    ]


def test_several_skipped_times_and_the_gap_end_collapse_into_one_tick() -> None:
    schedule = Schedule.cron("0,15,30,45 2,3 * * *", "America/New_York")
    fired = ticks(schedule, utc(2024, 3, 10, 5), utc(2024, 3, 10, 9))
    assert [local(t, NEW_YORK) for t in fired] == [
        "2024-03-10T03:00:00-04:00",  # 02:00, 02:15, 02:30, 02:45 and 03:00 itself: once
        "2024-03-10T03:15:00-04:00",
        "2024-03-10T03:30:00-04:00",
        "2024-03-10T03:45:00-04:00",
    ]


def test_new_york_fall_back_repeated_time_fires_once() -> None:
    schedule = Schedule.cron("30 1 * * *", "America/New_York")
    fired = ticks(schedule, utc(2024, 11, 2), utc(2024, 11, 5))
    assert [local(t, NEW_YORK) for t in fired] == [
        "2024-11-02T01:30:00-04:00",
        "2024-11-03T01:30:00-04:00",  # 01:30 happens twice that night; only the first fires
        "2024-11-04T01:30:00-05:00",
    ]


def test_fall_back_repeated_hour_is_not_run_twice_by_an_hourly_schedule() -> None:
    schedule = Schedule.cron("0,30 * * * *", "America/New_York")
    fired = ticks(schedule, utc(2024, 11, 3, 4), utc(2024, 11, 3, 8))
    assert [local(t, NEW_YORK) for t in fired] == [
        "2024-11-03T00:30:00-04:00",
        "2024-11-03T01:00:00-04:00",
        "2024-11-03T01:30:00-04:00",
        "2024-11-03T02:00:00-05:00",
        "2024-11-03T02:30:00-05:00",
        "2024-11-03T03:00:00-05:00",
    ]


def test_queries_from_inside_the_repeated_hour() -> None:
    schedule = Schedule.cron("0,30 * * * *", "America/New_York")
    second_one_ten = utc(2024, 11, 3, 6, 10)  # 01:10 EST, the second 01:10 of the night
    assert schedule.previous_before(second_one_ten) == utc(2024, 11, 3, 5, 30)  # 01:30 EDT
    assert schedule.next_after(second_one_ten) == utc(2024, 11, 3, 7)  # 02:00 EST


def test_berlin_transitions() -> None:
    schedule = Schedule.cron("30 2 * * *", "Europe/Berlin")
    spring = ticks(schedule, utc(2024, 3, 30), utc(2024, 4, 1, 12))
    assert [local(t, BERLIN) for t in spring] == [
        "2024-03-30T02:30:00+01:00",
        "2024-03-31T03:00:00+02:00",
        "2024-04-01T02:30:00+02:00",
    ]
    autumn = ticks(schedule, utc(2024, 10, 26), utc(2024, 10, 28, 12))
    assert [local(t, BERLIN) for t in autumn] == [
        "2024-10-26T02:30:00+02:00",
        "2024-10-27T02:30:00+02:00",  # not again at 02:30+01:00
        "2024-10-28T02:30:00+01:00",
    ]


def test_daily_schedule_across_dst_keeps_wall_time() -> None:
    schedule = Schedule.cron("0 9 * * *", "Europe/Berlin")
    fired = ticks(schedule, utc(2024, 3, 30), utc(2024, 4, 1, 12))
    assert [t.hour for t in fired] == [8, 7, 7]  # 09:00 CET, then 09:00 CEST
    assert fired[1] - fired[0] == timedelta(hours=23)


def test_intervals_are_absolute_across_dst() -> None:
    schedule = Schedule.every("1h", "America/New_York")
    fired = ticks(schedule, utc(2024, 3, 10, 5), utc(2024, 3, 10, 9))
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(fired))
    assert len(fired) == 4


# ------------------------------------------------------------------------------- intervals


def test_interval_ticks_are_anchored_at_the_epoch() -> None:
    schedule = Schedule.every("10s")
    assert schedule.next_after(utc(2024, 1, 1, 0, 0, 3)) == utc(2024, 1, 1, 0, 0, 10)
    assert schedule.next_after(utc(2024, 1, 1, 0, 0, 10)) == utc(2024, 1, 1, 0, 0, 20)
    assert schedule.previous_before(utc(2024, 1, 1, 0, 0, 10)) == utc(2024, 1, 1, 0, 0, 0)
    odd = Schedule.every("7m")
    first = odd.next_after(utc(2024, 1, 1))
    assert ((first - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(minutes=7)).is_integer()


@pytest.mark.parametrize("interval", ["500ms", "0s", "-10s", "10", "ten seconds"])
def test_bad_intervals(interval: str) -> None:
    with pytest.raises(ScheduleError):
        Schedule.every(interval)


def test_go_duration_intervals() -> None:
    assert Schedule.every("1h30m").interval == timedelta(minutes=90)
    assert Schedule.every("1.5h").interval == timedelta(minutes=90)
    assert Schedule.every(timedelta(seconds=2)).interval == timedelta(seconds=2)


# -------------------------------------------------------------------------- exclusion dates


def test_exclusion_date_spellings() -> None:
    assert parse_exclusion_dates(
        [
            "EXDATE:20190102T150405Z",
            "EXDATE:20190602T160210Z,20190603T000000Z",
            "2024-12-25",
            "2024-07-04T10:00:00-04:00",
        ]
    ) == {date(2019, 1, 2), date(2019, 6, 2), date(2019, 6, 3), date(2024, 12, 25), date(2024, 7, 4)}


@pytest.mark.parametrize(
    "value", ["EXDATE:2019-01-02", "tomorrow", "2024-12-25T00:00:00", "EXDATE:20190102T150405"]
)
def test_bad_exclusion_dates(value: str) -> None:
    with pytest.raises(ScheduleError, match="invalid exclusion date"):
        parse_exclusion_dates([value])


def test_an_excluded_date_removes_every_tick_of_that_day() -> None:
    schedule = Schedule.cron("30 * * * *", None, ["EXDATE:20190102T150405Z"])
    fired = ticks(schedule, utc(2019, 1, 1, 22), utc(2019, 1, 3, 2))
    assert [rfc3339(t) for t in fired] == [
        "2019-01-01T22:30:00Z",
        "2019-01-01T23:30:00Z",
        "2019-01-03T00:30:00Z",
        "2019-01-03T01:30:00Z",
    ]
    assert schedule.next_after(utc(2019, 1, 1, 23, 30)) == utc(2019, 1, 3, 0, 30)
    assert schedule.previous_before(utc(2019, 1, 3, 0, 30)) == utc(2019, 1, 1, 23, 30)


def test_excluded_day_is_the_schedules_local_day() -> None:
    schedule = Schedule.cron("0 23 * * *", "America/New_York", ["2024-12-25"])
    fired = ticks(schedule, utc(2024, 12, 24, 12), utc(2024, 12, 27, 12))
    # 23:00 on the 25th in New York is 04:00 UTC on the 26th: still excluded (local day counts)
    assert [local(t, NEW_YORK)[:10] for t in fired] == ["2024-12-24", "2024-12-26"]


def test_interval_skips_excluded_days_without_walking_them() -> None:
    schedule = Schedule.every("1s", "UTC", ["2024-01-02"])
    assert schedule.next_after(utc(2024, 1, 1, 23, 59, 59)) == utc(2024, 1, 3)
    assert schedule.previous_before(utc(2024, 1, 3)) == utc(2024, 1, 1, 23, 59, 59)


# ----------------------------------------------------------------------------- catch-up


def test_missed_between_keeps_the_most_recent_ticks_within_the_limit() -> None:
    schedule = Schedule.every("1m")
    last, now = utc(2024, 1, 1, 0, 0), utc(2024, 1, 1, 1, 0)
    assert schedule.missed_between(last, now, 1000) == [utc(2024, 1, 1, 0, m) for m in range(1, 60)] + [now]
    assert schedule.missed_between(last, now, 3) == [utc(2024, 1, 1, 0, 58), utc(2024, 1, 1, 0, 59), now]
    assert schedule.missed_between(now, now, 10) == []
    assert schedule.missed_between(utc(2024, 1, 1, 0, 59, 30), now, 10) == [now]


def test_missed_between_after_a_long_outage_is_cheap() -> None:
    schedule = Schedule.every("1s")
    missed = schedule.missed_between(utc(2000, 1, 1), utc(2024, 1, 1), 5)
    assert missed == [utc(2023, 12, 31, 23, 59, 56 + i) for i in range(4)] + [utc(2024, 1, 1)]
    cron = Schedule.cron("* * * * *")
    assert len(cron.missed_between(utc(2000, 1, 1), utc(2024, 1, 1), 100)) == 100


def test_missed_between_respects_dst_and_exclusions() -> None:
    schedule = Schedule.cron("30 2 * * *", "America/New_York", ["2024-03-11"])
    missed = schedule.missed_between(utc(2024, 3, 8, 12), utc(2024, 3, 13, 12), 10)
    assert [local(t, NEW_YORK) for t in missed] == [
        "2024-03-09T02:30:00-05:00",
        "2024-03-10T03:00:00-04:00",
        "2024-03-12T02:30:00-04:00",
        "2024-03-13T02:30:00-04:00",
    ]


def test_missed_between_needs_a_positive_limit() -> None:
    with pytest.raises(ValueError):
        Schedule.every("1m").missed_between(utc(2024, 1, 1), utc(2024, 1, 2), 0)


def test_rfc3339() -> None:
    assert rfc3339(datetime(2024, 3, 10, 3, tzinfo=NEW_YORK)) == "2024-03-10T07:00:00Z"
    assert rfc3339(utc(2024, 1, 1, 0, 0, 0) + timedelta(microseconds=5000)) == "2024-01-01T00:00:00.005Z"


@pytest.mark.parametrize(
    ("schedule", "start", "end"),
    [
        (
            Schedule.cron("*/20 * * * *", "America/New_York", ["2024-11-04"]),
            utc(2024, 11, 1),
            utc(2024, 11, 6),
        ),
        (Schedule.cron("*/20 * * * *", "America/New_York"), utc(2024, 3, 8), utc(2024, 3, 12)),
        (Schedule.cron("15 2 * * *", "Europe/Berlin"), utc(2024, 3, 1), utc(2024, 11, 30)),
        (Schedule.every("7m", "America/New_York", ["2024-03-10"]), utc(2024, 3, 9), utc(2024, 3, 12)),
    ],
    ids=["ny-fall-excluded", "ny-spring", "berlin-year", "interval-excluded"],
)
def test_forward_and_backward_iteration_agree(schedule: Schedule, start: datetime, end: datetime) -> None:
    forward = list(schedule.ticks_between(start, end))
    assert forward == sorted(set(forward))
    assert schedule.missed_between(start, end, 1_000_000) == forward
    for earlier, later in itertools.pairwise(forward[:50]):
        assert schedule.next_after(earlier) == later
        assert schedule.previous_before(later) == earlier
