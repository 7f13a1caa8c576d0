"""The log trigger."""

from __future__ import annotations

import logging

import pytest

from sensors.spec import LogTrigger
from triggerfish.events import new_event
from triggers.base import Firing
from triggers.log import LogTriggerDriver, data_string

from ..sensors.helpers import event


async def test_logs_each_event_with_its_dependency(caplog: pytest.LogCaptureFixture) -> None:
    driver = LogTriggerDriver()
    firing = Firing("default", "s", "t", "k", {"dep-a": event("a", {"x": 1})}, [1])
    with caplog.at_level(logging.INFO, logger="triggerfish.triggers.log"):
        result = await driver.fire(LogTrigger(), firing)
    assert result.details == {"logged": 1}
    (record,) = caplog.records
    assert record.getMessage().startswith('{"x":1} dependencyName=dep-a eventContext={"id":')
    assert record.dependencyName == "dep-a"  # type: ignore[attr-defined]


async def test_interval_limits_how_often_a_trigger_logs() -> None:
    now = [100.0]
    driver = LogTriggerDriver(monotonic=lambda: now[0])
    firing = Firing("default", "s", "t", "k", {"dep-a": event("a", {"x": 1})}, [1])
    spec = LogTrigger(interval_seconds=10)
    assert (await driver.fire(spec, firing)).details == {"logged": 1}
    now[0] = 105.0
    assert (await driver.fire(spec, firing)).details == {"logged": 0}
    now[0] = 111.0
    assert (await driver.fire(spec, firing)).details == {"logged": 1}


def test_data_string() -> None:
    assert data_string(event("a", {"x": 1})) == '{"x":1}'
    binary = new_event(
        id="1",
        source="s",
        type="t",
        subject="x",
        data=b"\x00\x01",
        datacontenttype="application/octet-stream",
    )
    assert data_string(binary) == "AAE="
    assert data_string(event("a", None)) == ""
