"""``GET /metrics`` on a real hub: after real webhook deliveries, a sensor match, a workflow run and
a failing HTTP trigger, every metric family the hub promises carries the right figures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.event_hub import EventHub, event_hubs, needs_isolation
from tests.support.processes import free_port, wait_for

pytestmark = needs_isolation

MANIFESTS = """\
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata: {{name: metered}}
spec:
  webhook:
    hook: {{endpoint: /metered, port: "{port}", method: POST}}
---
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata: {{name: metered}}
spec:
  dependencies:
    - {{name: change, eventSourceName: metered, eventName: hook}}
  triggers:
    - template:
        name: run
        argoWorkflow:
          operation: submit
          source:
            resource:
              apiVersion: argoproj.io/v1alpha1
              kind: Workflow
              metadata: {{generateName: metered-}}
              spec:
                entrypoint: main
                templates:
                  - name: main
                    container: {{image: busybox, command: ["true"]}}
    - template:
        name: broken
        http: {{url: "http://127.0.0.1:{dead_port}/nowhere", method: POST}}
      retryStrategy: {{steps: 2, duration: 10ms}}
"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(hub: EventHub) -> Samples:
    response = hub.client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample with exactly these labels (0 when absent: a counter not yet incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventHub]:
    with event_hubs(tmp_path_factory.mktemp("metrics")) as make:
        yield make(settings={}).start()


def test_metrics_follow_events_sensors_triggers_and_workflows(hub: EventHub) -> None:
    port, dead_port = free_port(), free_port()
    hub.apply(*yaml.safe_load_all(MANIFESTS.format(port=port, dead_port=dead_port)))
    url = f"http://127.0.0.1:{port}/metered"
    assert httpx.post(url, json={"kind": "build"}, timeout=10).status_code == 200
    refused = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert refused.status_code == 400

    def settled() -> Samples | None:
        samples = scrape(hub)
        done = value(samples, "triggerfish_trigger_results_total", **trigger("broken"), outcome="failed")
        ran = value(samples, "triggerfish_workflows", namespace="default", phase="Succeeded")
        return samples if done and ran else None

    samples = wait_for(settled, 60, "the workflow to succeed and the broken trigger to fail")
    source = {"namespace": "default", "eventsource": "metered", "event_name": "hook"}
    assert value(samples, "triggerfish_events_received_total", **source) == 2
    assert value(samples, "triggerfish_events_published_total", **source) == 1
    assert value(samples, "triggerfish_events_rejected_total", **source, status="400") == 1
    matches = {"namespace": "default", "sensor": "metered", "dependency": "change"}
    assert value(samples, "triggerfish_sensor_matches_total", **matches) == 1
    run = trigger("run")
    assert value(samples, "triggerfish_trigger_results_total", **run, outcome="succeeded") == 1
    assert value(samples, "triggerfish_trigger_retries_total", **trigger("broken")) == 1
    assert value(samples, "triggerfish_trigger_retries_total", **run) == 0
    assert value(samples, "triggerfish_step_duration_seconds_count", phase="Succeeded") >= 1
    assert value(samples, "triggerfish_controller_queue_depth") == 0
    assert ("triggerfish_controller_active_workflows", frozenset()) in samples

    def caught_up() -> bool | None:
        lag = {labels: v for (name, labels), v in scrape(hub).items() if name == "triggerfish_bus_lag"}
        return (bool(lag) and all(v == 0 for v in lag.values())) or None

    wait_for(caught_up, 30, "the sensor's consumer group to commit the event")


def trigger(name: str) -> dict[str, Any]:
    return {"namespace": "default", "sensor": "metered", "trigger": name}
