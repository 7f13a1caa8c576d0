"""A two-dependency Sensor (``dep-a && dep-b``) across a real SIGKILL of ``triggerfish server``.

dep-a arrives, the hub is killed with SIGKILL and started again on the same data directory, dep-b
arrives: the partial match survived, so exactly one run is created and both events show it in
their lineage; the firing clears the partial matches. Then replay (``/events/{id}/replay``): the
event is delivered again and fires the triggers it *completes*, as a new firing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.event_hub import EventHub, arguments_of, event_hubs, needs_isolation
from tests.support.processes import free_port, process_alive, wait_for

pytestmark = needs_isolation


SENSOR = "both"


def webhook_source(name: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventSource",
        "metadata": {"name": name},
        "spec": {"webhook": {"ev": {"endpoint": f"/{name}", "port": str(port), "method": "POST"}}},
    }


JOIN_SENSOR: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Sensor",
    "metadata": {"name": SENSOR},
    "spec": {
        "dependencies": [
            {"name": "dep-a", "eventSourceName": "es-a", "eventName": "ev"},
            {"name": "dep-b", "eventSourceName": "es-b", "eventName": "ev"},
        ],
        "triggers": [
            {
                "template": {
                    "name": "join",
                    "conditions": "dep-a && dep-b",
                    "argoWorkflow": {
                        "operation": "submit",
                        "source": {
                            "resource": {
                                "apiVersion": "argoproj.io/v1alpha1",
                                "kind": "Workflow",
                                "metadata": {"generateName": "join-"},
                                "spec": {
                                    "entrypoint": "main",
                                    "arguments": {"parameters": [{"name": "a"}, {"name": "b"}]},
                                    "templates": [
                                        {
                                            "name": "main",
                                            "container": {"image": "busybox", "command": ["true"]},
                                        }
                                    ],
                                },
                            }
                        },
                        "parameters": [
                            {
                                "src": {"dependencyName": "dep-a", "dataKey": "body.value"},
                                "dest": "spec.arguments.parameters.0.value",
                            },
                            {
                                "src": {"dependencyName": "dep-b", "dataKey": "body.value"},
                                "dest": "spec.arguments.parameters.1.value",
                            },
                        ],
                    },
                }
            }
        ],
    },
}


class Senders:
    def __init__(self, hub: EventHub, port_a: int, port_b: int) -> None:
        self.hub = hub
        self.ports = {"a": port_a, "b": port_b}

    def send(self, which: str, value: str) -> str:
        """POST ``{"value": ...}`` to es-<which> on its manifest port; returns the event id."""
        url = f"http://127.0.0.1:{self.ports[which]}/es-{which}"
        response = httpx.post(url, json={"value": value}, timeout=10)
        assert response.status_code == 200, response.text
        event_id: str = response.json()["id"]
        return event_id

    def settle(self) -> None:
        """Long enough for a firing (if any) to have created its run."""
        time.sleep(1.0)

    def runs(self) -> dict[str, tuple[str, str]]:
        return {
            run["metadata"]["name"]: (arguments_of(run)["a"], arguments_of(run)["b"])
            for run in self.hub.runs(sensor=SENSOR)
        }


@pytest.fixture
def senders(tmp_path: Path) -> Iterator[Senders]:
    with event_hubs(tmp_path) as make:
        hub = make(settings={}).start()
        port_a, port_b = free_port(), free_port()
        hub.apply(webhook_source("es-a", port_a), webhook_source("es-b", port_b), JOIN_SENSOR)
        yield Senders(hub, port_a, port_b)


def run_names(lineage: dict[str, Any]) -> list[str]:
    return sorted(w["name"] for w in lineage["workflows"])


def delivered(hub: EventHub, event_id: str) -> dict[str, Any]:
    """The event's lineage once the sensor has processed it. The delivery row and any firing it
    completes are written in one transaction, so from then on ``firings`` is final for it."""

    def probe() -> dict[str, Any] | None:
        lineage = hub.lineage(event_id)
        return lineage if lineage["sensors"] else None

    return wait_for(probe, 10, f"event {event_id} to be delivered to the sensor")


def fire_once(senders: Senders) -> tuple[str, str, str]:
    """dep-a then dep-b: one run. Returns (event a, event b, run name)."""
    hub = senders.hub
    event_a = senders.send("a", "A1")
    event_b = senders.send("b", "B1")
    (run,) = hub.wait_runs(1, sensor=SENSOR)
    name: str = run["metadata"]["name"]
    assert hub.wait_completed(name, timeout=30)["status"]["phase"] == "Succeeded"
    return event_a, event_b, name


def test_partial_match_survives_sigkill_and_is_cleared_after_firing(senders: Senders) -> None:
    hub = senders.hub
    event_a = senders.send("a", "A1")
    # the sensor has recorded dep-a (a durable partial match) before the crash
    lineage_a = delivered(hub, event_a)
    assert lineage_a["sensors"] == [{"sensor": f"default/{SENSOR}", "dependencies": ["dep-a"]}]
    assert lineage_a["firings"] == [], "dep-a alone must not fire"

    pid = hub.pid
    hub.kill()  # SIGKILL
    assert not process_alive(pid)
    hub.start()

    event_b = senders.send("b", "B1")
    (first,) = hub.wait_runs(1, sensor=SENSOR)
    name = first["metadata"]["name"]
    assert hub.wait_completed(name, timeout=30)["status"]["phase"] == "Succeeded"
    senders.settle()
    assert senders.runs() == {name: ("A1", "B1")}
    for event_id, dep in ((event_a, "dep-a"), (event_b, "dep-b")):
        lineage = hub.lineage(event_id)
        assert lineage["sensors"] == [{"sensor": f"default/{SENSOR}", "dependencies": [dep]}]
        assert run_names(lineage) == [name]
        assert [(f["trigger"], f["status"]) for f in lineage["firings"]] == [("join", "succeeded")]

    # The firing consumed dep-a: a fresh dep-b alone completes nothing …
    event_b2 = senders.send("b", "B2")
    assert delivered(hub, event_b2)["firings"] == []
    assert list(senders.runs()) == [name]
    # … until a fresh dep-a arrives (and B2 was kept as the new partial match).
    senders.send("a", "A2")
    runs = hub.wait_runs(2, sensor=SENSOR)
    assert len(runs) == 2
    senders.settle()
    assert sorted(senders.runs().values()) == [("A1", "B1"), ("A2", "B2")]


def test_replaying_an_event_fires_its_firings_again(senders: Senders) -> None:
    """Replay runs again what an event caused: the firing it took part in fires anew with the same
    events (a new firing, so a second run), even for one event of a two-dependency condition."""
    hub = senders.hub
    event_a, event_b, first = fire_once(senders)

    replayed = hub.replay(event_b)
    assert replayed["replayedTo"] == [{"sensor": f"default/{SENSOR}", "dependencies": ["dep-b"]}]
    runs = hub.wait_runs(2, sensor=SENSOR)
    second = next(r["metadata"]["name"] for r in runs if r["metadata"]["name"] != first)
    assert hub.wait_completed(second, timeout=30)["status"]["phase"] == "Succeeded"
    senders.settle()
    assert senders.runs() == {first: ("A1", "B1"), second: ("A1", "B1")}
    assert run_names(hub.lineage(event_a)) == sorted([first, second])
    assert run_names(hub.lineage(event_b)) == sorted([first, second])
    assert len(hub.lineage(event_b)["firings"]) == 2
    # replaying to a sensor that does not run is an error, not a silent no-op
    assert hub.client.post(f"/api/v1/triggerfish/events/{event_a}/replay?sensor=nope").status_code == 404
