"""A ``triggerfish server`` with ``executor.kind: podman``, SIGKILLed while a step's container runs and
started again: the step is reattached (not run twice), its result and output parameter reach the
next step, and no container is left behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.containers import EngineUnderTest
from tests.support.processes import HubServer, hub_servers, nodes_by_display_name, wait_for
from tests.support.run_recorder import RunRecorder
from triggerfish.config import load_settings
from triggerfish.hub import build_executor
from workflow_runtime.executors.container.executor import LABEL_ROOT, ContainerExecutor

PRODUCE = """
import socket, time
socket.create_connection(("127.0.0.1", {port})).sendall(b"produce\\n")
time.sleep(3)
open("/tmp/word", "w").write("bird")
print(6 * 7)
"""


def workflow(recorder: RunRecorder) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "survivor"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "steps": [
                        [{"name": "produce", "template": "produce"}],
                        [
                            {
                                "name": "consume",
                                "template": "consume",
                                "arguments": {
                                    "parameters": [
                                        {"name": "result", "value": "{{steps.produce.outputs.result}}"},
                                        {
                                            "name": "word",
                                            "value": "{{steps.produce.outputs.parameters.word}}",
                                        },
                                    ]
                                },
                            }
                        ],
                    ],
                },
                {
                    "name": "produce",
                    "script": {
                        "image": "python:3",
                        "command": ["python3"],
                        "source": PRODUCE.format(port=recorder.port),
                    },
                    "outputs": {"parameters": [{"name": "word", "valueFrom": {"path": "/tmp/word"}}]},
                },
                {
                    "name": "consume",
                    "inputs": {"parameters": [{"name": "result"}, {"name": "word"}]},
                    "container": {
                        "image": "alpine:3.23",
                        "command": ["sh", "-c"],
                        "args": ['test "{{inputs.parameters.result}}-{{inputs.parameters.word}}" = 42-bird'],
                    },
                },
            ],
        },
    }


@pytest.fixture
def hub(podman_engine: EngineUnderTest, tmp_path: Path) -> Iterator[HubServer]:
    config = tmp_path / "hub.yaml"
    config.write_text(yaml.safe_dump({"executor": {"kind": podman_engine.name, "kill_grace_seconds": 1}}))
    with hub_servers(tmp_path) as make:
        yield make(extra_args=["--config", str(config)])


def containers(engine: EngineUnderTest, hub: HubServer, *state: str) -> list[str]:
    filters = ["--filter", f"label={LABEL_ROOT}={hub.data_dir.resolve() / 'containers'}"]
    filters += [arg for status in state for arg in ("--filter", f"status={status}")]
    return engine.run("ps", "-aq", *filters).stdout.split()


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[RunRecorder]:
    with RunRecorder(tmp_path / "steps.log") as witness:
        yield witness


def test_a_killed_hub_reattaches_to_running_containers(
    podman_engine: EngineUnderTest, hub: HubServer, recorder: RunRecorder
) -> None:
    hub.start()
    hub.submit(workflow(recorder))
    recorder.wait_for("produce")
    hub.kill()
    running = containers(podman_engine, hub, "running")
    assert len(running) == 1, "the step's container must outlive the hub"

    hub.start()
    document = hub.wait_completed("survivor", timeout=60)
    nodes = nodes_by_display_name(document)
    assert document["status"]["phase"] == "Succeeded", hub.log_text()
    produce = nodes["produce"]
    assert produce["outputs"]["result"] == "42"
    assert produce["outputs"]["parameters"] == [
        {"name": "word", "value": "bird", "valueFrom": {"path": "/tmp/word"}}
    ]
    assert nodes["consume"]["phase"] == "Succeeded"
    assert recorder.lines == ["produce"], "the step ran again"
    assert recorder.lines == ["produce"], "the step ran again"
    wait_for(lambda: not containers(podman_engine, hub) or None, 30, "finished containers to be removed")


def test_auto_picks_podman_when_installed(podman_engine: EngineUnderTest, tmp_path: Path) -> None:
    executor = build_executor(load_settings(data_dir=tmp_path, executor={"kind": "auto"}))
    assert isinstance(executor, ContainerExecutor)
    assert executor.engine.name == "podman"
    assert executor.root == tmp_path / "containers"
