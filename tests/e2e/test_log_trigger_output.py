"""A ``log`` trigger prints to the hub's output: webhook → sensor → log line, over real HTTP.

Python drops INFO records unless logging is configured, so this guards the server's set-up: the
event's data and the dependency name must reach ``triggerfish server``'s stderr.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.event_hub import EventHub, event_hubs
from tests.support.processes import free_port, wait_for


def webhook_source(port: int) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventSource",
        "metadata": {"name": "orders"},
        "spec": {"webhook": {"created": {"endpoint": "/orders", "port": str(port), "method": "POST"}}},
    }


SENSOR: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Sensor",
    "metadata": {"name": "order-log"},
    "spec": {
        "dependencies": [{"name": "order", "eventSourceName": "orders", "eventName": "created"}],
        "triggers": [{"template": {"name": "print", "log": {}}}],
    },
}


@pytest.fixture
def hubs(tmp_path: Path) -> Iterator[Callable[..., EventHub]]:
    with event_hubs(tmp_path) as make:
        yield make


def test_log_trigger_prints_the_event_data_to_the_hub_output(hubs: Callable[..., EventHub]) -> None:
    hub = hubs().start()
    hub.apply(webhook_source(free_port()), SENSOR)
    body = {"order": "A-1041", "items": 3}
    response = hub.client.post(
        "/orders", content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text

    def printed() -> str | None:
        lines = [line for line in hub.log_text().splitlines() if "triggerfish.triggers.log" in line]
        return lines[0] if lines else None

    line = wait_for(printed, 15.0, f"the log trigger's line in the hub output:\n{hub.log_text()}")
    assert "INFO" in line
    assert '"order":"A-1041"' in line
    assert "dependencyName=order" in line
