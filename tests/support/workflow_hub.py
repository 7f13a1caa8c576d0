"""An in-process hub for runtime integration tests: submit a Workflow, wait, look at its nodes.

``EXECUTORS`` lists the executor kinds these tests run over (``executor.kind`` of the settings); a
test module parametrizes its hub fixture with it and enters :func:`executor_ready` first, so adding a
kind runs every scenario on it too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.containers import engine_context
from tests.support.processes import kill_agent
from triggerfish.config import load_settings
from triggerfish.hub import Hub, open_hub
from workflow_runtime.controller import names
from workflow_runtime.controller.controller import SubmitOptions
from workflow_runtime.executors.base import Executor
from workflow_runtime.executors.local.executor import LocalExecutor
from workflow_runtime.spec.loader import load_workflow
from workflow_runtime.state import Node

EXECUTORS = ["local", "podman"]

RUN_TIMEOUT = 60.0


@dataclass
class Finished:
    """A completed run: its phase and message, nodes by display name, and workflow outputs."""

    uid: str
    name: str
    phase: str
    message: str
    nodes: dict[str, Node]
    outputs: dict[str, Any]

    def node(self, display_name: str) -> Node:
        assert display_name in self.nodes, f"no node {display_name!r} in {sorted(self.nodes)}"
        return self.nodes[display_name]

    def stdout(self, executor: Executor, display_name: str) -> str:
        """What the step printed (its log, which the executor keeps after the run)."""
        node = self.node(display_name)
        pod = names.pod_name(self.name, node.name, node.template_name or "")
        return executor.read_log(f"{self.uid}/{pod}", "stdout").decode()


@contextlib.contextmanager
def executor_ready(kind: str) -> Iterator[str]:
    """``kind``, once its executor can run steps: for podman, the engine installed and configured (for
    this process and the hubs it starts) with its images built; it fails under ``CI=true`` when that
    cannot be had, and skips elsewhere.  (docker would also need its private daemon's ``-H`` in the
    hub's settings: the docker executor is covered by ``tests/containers``.)"""
    if kind == "podman":
        with engine_context("podman"):
            yield kind
    else:
        yield kind


@contextlib.asynccontextmanager
async def running_hub(data_dir: Path, executor: str, **settings: Any) -> AsyncIterator[Hub]:
    """A hub on ``data_dir`` with the given executor kind and settings; its agent is stopped after."""
    hub = await open_hub(load_settings(data_dir=data_dir, executor={"kind": executor}, **settings))
    try:
        yield hub
    finally:
        if isinstance(hub.executor, LocalExecutor):
            await hub.executor.stop_agent()
        await hub.close()
        kill_agent(data_dir)


async def run_workflow(hub: Hub, manifest: dict[str, Any], timeout: float = RUN_TIMEOUT) -> Finished:
    """Submit ``manifest`` and wait until it completes."""
    controller = hub.controller
    record = await controller.submit(load_workflow(manifest), SubmitOptions(namespace="default"))
    run = controller.runs[record.uid]
    phase = await asyncio.wait_for(controller.wait(record.uid), timeout)
    return Finished(
        uid=record.uid,
        name=record.name,
        phase=phase.value,
        message=run.message,
        nodes={node.display_name: node for node in run.tree},
        outputs=dict(run.outputs),
    )


def workflow(templates: list[dict[str, Any]], entrypoint: str = "main", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "art-"},
        "spec": {"entrypoint": entrypoint, "templates": templates, **spec},
    }


def sh(name: str, script: str, **fields: Any) -> dict[str, Any]:
    """A busybox template running ``script`` with ``sh -c``."""
    return {"name": name, "container": {"image": "busybox", "command": ["sh", "-c", script]}, **fields}
