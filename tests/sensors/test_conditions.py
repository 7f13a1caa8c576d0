"""Trigger conditions over dependency names and conditionsReset schedules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sensors.conditions import ConditionError, CronReset, last_reset, parse_conditions, trigger_condition

DEPS = ["test-dep-1", "test-dep-2", "test-dep-3", "plain"]


def test_precedence_and_parentheses() -> None:
    condition = parse_conditions("(test-dep-1 && test-dep-2) || test-dep-3", DEPS)
    assert condition.dependencies == ("test-dep-1", "test-dep-2", "test-dep-3")
    assert condition.requires_and
    assert condition.holds({"test-dep-3"})
    assert condition.holds({"test-dep-1", "test-dep-2"})
    assert not condition.holds({"test-dep-1"})
    # && binds tighter than || (govaluate)
    loose = parse_conditions("plain || test-dep-1 && test-dep-2", DEPS)
    assert loose.holds({"plain"})
    assert not loose.holds({"test-dep-1"})


def test_or_only_conditions_do_not_keep_state() -> None:
    condition = parse_conditions("test-dep-1 || test-dep-2", DEPS)
    assert not condition.requires_and
    assert parse_conditions("plain", DEPS).dependencies == ("plain",)


def test_dashes_and_underscores_name_the_same_dependency() -> None:
    # Argo translates "-" to "_" before evaluating, so both spellings work
    assert parse_conditions("test_dep_1 && test-dep-2", DEPS).dependencies == ("test-dep-1", "test-dep-2")


@pytest.mark.parametrize("source", ["unknown", "plain && ", "(plain", "plain & test-dep-1", "!plain", ""])
def test_invalid_conditions(source: str) -> None:
    with pytest.raises(ConditionError):
        parse_conditions(source, DEPS)


def test_default_condition_is_all_dependencies() -> None:
    condition = trigger_condition("", ["a", "b"])
    assert condition.source == "a&&b"
    assert condition.requires_and
    assert not condition.holds({"a"})
    assert condition.holds({"a", "b"})
    single = trigger_condition("", ["a"])
    assert not single.requires_and and single.holds({"a"})


def test_cron_reset_ticks_in_a_time_zone() -> None:
    reset = CronReset("59 23 * * *", "America/Los_Angeles")
    now = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)  # 05:00 in Los Angeles
    assert reset.previous(now) == datetime(2024, 5, 6, 6, 59, tzinfo=UTC)  # 23:59 PDT on the 5th
    assert reset.next(now) == datetime(2024, 5, 7, 6, 59, tzinfo=UTC)
    exact = datetime(2024, 5, 7, 6, 59, tzinfo=UTC)
    assert reset.previous(exact) == exact


def test_last_reset_is_the_latest_of_the_schedules() -> None:
    now = datetime(2024, 5, 6, 12, 30, tzinfo=UTC)
    assert last_reset([CronReset("0 0 * * *"), CronReset("0 * * * *")], now) == datetime(
        2024, 5, 6, 12, 0, tzinfo=UTC
    )
    assert last_reset([], now) is None


@pytest.mark.parametrize(
    ("cron", "zone"), [("61 * * * *", ""), ("* * * *", ""), ("@daily", ""), ("0 0 * * *", "Nowhere/City")]
)
def test_invalid_schedules(cron: str, zone: str) -> None:
    with pytest.raises(ConditionError):
        CronReset(cron, zone)
