"""``time_string`` is Go's ``time.Time.String()``: the same text as formatting with its layout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest

from triggerfish.expressions.gotime import TIME_STRING_LAYOUT, format_time, time_string

ZONES: list[tzinfo] = [
    UTC,
    timezone(timedelta(hours=5, minutes=30)),
    timezone(-timedelta(hours=7)),
    ZoneInfo("Europe/Berlin"),
]


@pytest.mark.parametrize("zone", ZONES, ids=str)
@pytest.mark.parametrize("microsecond", [0, 1, 120000, 999999])
def test_time_string_is_the_layout_formatted(zone: tzinfo, microsecond: int) -> None:
    moment = datetime(2024, 3, 31, 1, 2, 3, microsecond, tzinfo=zone)
    assert time_string(moment) == format_time(moment, TIME_STRING_LAYOUT)


def test_time_string_as_go_prints_it() -> None:
    assert (
        time_string(datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)) == "2024-05-01 10:00:00.123 +0000 UTC"
    )
    assert time_string(datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)) == "2024-05-01 10:00:00 +0000 UTC"
