"""Memoization and semaphores on a real ``triggerfish server`` with the local executor: a cached
step is not run again across workflows (and across a hub restart), and a semaphore whose limit
comes from the hub's settings keeps steps from overlapping."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import HubServer, hub_servers, nodes_by_display_name
from workflow_runtime.executors.local import sandbox

pytestmark = pytest.mark.skipif(
    sandbox.isolation_problem() is not None, reason=f"no step isolation here: {sandbox.isolation_problem()}"
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    base = tmp_path_factory.mktemp("memo-sync")
    config = base / "hub.yaml"
    config.write_text("semaphores:\n  default/one-at-a-time/limit: 1\n")
    with hub_servers(base) as make:
        yield make(extra_args=["--config", str(config)]).start()


def workflow(prefix: str, spec: dict[str, Any]) -> dict[str, Any]:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": {"entrypoint": "main", **spec},
    }


def memoized(key: str) -> dict[str, Any]:
    """One step printing a fresh random number, memoized under ``key``."""
    return workflow(
        "memo",
        {
            "templates": [
                {
                    "name": "main",
                    "steps": [[{"name": "roll", "template": "roll"}]],
                    "outputs": {
                        "parameters": [
                            {"name": "n", "valueFrom": {"parameter": "{{steps.roll.outputs.result}}"}}
                        ]
                    },
                },
                {
                    "name": "roll",
                    "memoize": {"key": key, "maxAge": "1h", "cache": {"configMap": {"name": "rolls"}}},
                    "container": {"image": "busybox", "command": ["sh", "-c", "echo $RANDOM$RANDOM"]},
                },
            ]
        },
    )


def rolled(document: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    node = nodes_by_display_name(document)["roll"]
    return node["outputs"]["result"], node["memoizationStatus"]


def test_a_memoized_step_runs_once_and_later_workflows_reuse_its_output(
    hub: HubServer, tmp_path: Path
) -> None:
    key = f"roll-{uuid.uuid4().hex[:6]}"
    first = hub.submit(memoized(key))["metadata"]["name"]
    value, status = rolled(hub.wait_completed(first, 30))
    assert status == {"hit": False, "key": key, "cacheName": "rolls"}
    second = hub.submit(memoized(key))["metadata"]["name"]
    done = hub.wait_completed(second, 30)
    assert done["status"]["phase"] == "Succeeded"
    assert rolled(done) == (value, {"hit": True, "key": key, "cacheName": "rolls"})
    hub.stop()
    hub.start()
    third = hub.submit(memoized(key))["metadata"]["name"]
    assert rolled(hub.wait_completed(third, 30))[0] == value  # the cache is durable
    other = hub.submit(memoized(key + "-other"))["metadata"]["name"]
    assert rolled(hub.wait_completed(other, 30))[1]["hit"] is False


def test_a_semaphore_from_settings_keeps_steps_apart(hub: HubServer) -> None:
    stamp = "cut -d' ' -f1 /proc/uptime > /tmp/t; sleep 0.3; cut -d' ' -f1 /proc/uptime >> /tmp/t"
    manifest = workflow(
        "sem",
        {
            "templates": [
                {
                    "name": "main",
                    "steps": [[{"name": f"s{i}", "template": "timed"} for i in range(3)]],
                },
                {
                    "name": "timed",
                    "synchronization": {
                        "semaphores": [{"configMapKeyRef": {"name": "one-at-a-time", "key": "limit"}}]
                    },
                    "container": {"image": "busybox", "command": ["sh", "-c", stamp]},
                    "outputs": {"parameters": [{"name": "t", "valueFrom": {"path": "/tmp/t"}}]},
                },
            ]
        },
    )
    name = hub.submit(manifest)["metadata"]["name"]
    done = hub.wait_completed(name, 30)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    nodes = nodes_by_display_name(done)
    spans = sorted(
        tuple(float(v) for v in nodes[f"s{i}"]["outputs"]["parameters"][0]["value"].split()) for i in range(3)
    )
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, f"steps overlapped: {spans}"
