"""Crash and resume with a real SIGKILL: ``triggerfish server`` is killed in the middle of a run and
started again on the same data directory.

What must hold (the issue's acceptance criterion): every running workflow is resumed, finished
nodes are not run again, in-flight steps are reattached (or, when their agent died with the hub,
lost and retried per their retryStrategy), and the run ends with the phase an uninterrupted run
would have.

Each step reports itself to a :class:`RunRecorder` over TCP, because isolated steps leave no trace
on the host filesystem; the recorder is the independent witness of how often each step ran.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import (
    HubServer,
    agent_pid,
    hub_servers,
    kill_agent,
    nodes_by_display_name,
    process_alive,
    wait_for,
)
from tests.support.run_recorder import RunRecorder
from workflow_runtime.executors.local import sandbox

pytestmark = pytest.mark.skipif(
    sandbox.isolation_problem() is not None, reason=f"no step isolation here: {sandbox.isolation_problem()}"
)

MakeHub = Callable[..., HubServer]
Shape = set[tuple[str, str, str, tuple[str, ...]]]

RUN_TIMEOUT = 30.0


# ------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def make_hub(tmp_path: Path) -> Iterator[MakeHub]:
    """Hub servers on data dirs under tmp_path; every hub and agent is killed at teardown."""
    with hub_servers(tmp_path) as make:
        yield make


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[RunRecorder]:
    with RunRecorder(tmp_path / "steps.log") as rec:
        yield rec


# ------------------------------------------------------------------------------------- workflows


def say_template(
    recorder: RunRecorder, name: str = "say", retry: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Reports ``<workflow name> <id>[-<attempt>]`` to the recorder, then sleeps ``seconds``."""
    label = "{{workflow.name}} {{inputs.parameters.id}}" + ("-{{retries}}" if retry else "")
    template: dict[str, Any] = {
        "name": name,
        "inputs": {"parameters": [{"name": "id"}, {"name": "seconds", "default": "0"}]},
        "container": {
            "image": "debian:12",
            "command": ["bash", "-c"],
            "args": [f"{recorder.shell(label)} && sleep {{{{inputs.parameters.seconds}}}}"],
        },
    }
    if retry:
        template["retryStrategy"] = retry
    return template


def call(name: str, template: str, seconds: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "template": template,
        "arguments": {
            "parameters": [{"name": "id", "value": name.upper()}, {"name": "seconds", "value": str(seconds)}]
        },
        **extra,
    }


def steps_workflow(recorder: RunRecorder, middle_retry: dict[str, Any] | None = None) -> dict[str, Any]:
    """a → b (sleeps 4 s, the step in flight at the crash) → c."""
    templates = [
        {
            "name": "main",
            "steps": [
                [call("a", "say")],
                [call("b", "middle", seconds=4)],
                [call("c", "say")],
            ],
        },
        say_template(recorder),
        say_template(recorder, "middle", retry=middle_retry),
    ]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "crash-steps-"},
        "spec": {"entrypoint": "main", "templates": templates},
    }


def dag_workflow(recorder: RunRecorder) -> dict[str, Any]:
    """a, then two parallel branches (b1 sleeping 5 s; b2 → c2 sleeping 1 s), joined by d."""
    tasks = [
        call("a", "say"),
        call("b1", "say", seconds=5, depends="a"),
        call("b2", "say", depends="a"),
        call("c2", "say", seconds=1, depends="b2"),
        call("d", "say", depends="b1 && c2"),
    ]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "crash-dag-"},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", "dag": {"tasks": tasks}}, say_template(recorder)],
        },
    }


# ------------------------------------------------------------------------------------- helpers


def runs_of(recorder: RunRecorder, workflow: str) -> list[str]:
    """What the steps of ``workflow`` reported, in order."""
    return [line.split(" ", 1)[1] for line in recorder.lines if line.split(" ", 1)[0] == workflow]


def wait_phases(hub: HubServer, name: str, wanted: dict[str, str], timeout: float = 20.0) -> dict[str, Any]:
    """Poll the API until each named node has the wanted phase (as persisted: the API reads the store)."""

    def probe() -> dict[str, Any] | None:
        document = hub.get(name)
        nodes = nodes_by_display_name(document)
        if document["status"]["phase"] in ("Succeeded", "Failed", "Error"):
            raise AssertionError(f"{name} completed before the crash point: {document['status']}")
        ok = all(display in nodes and nodes[display]["phase"] == phase for display, phase in wanted.items())
        return document if ok else None

    return wait_for(probe, timeout, f"{name} to reach {wanted}", interval=0.05)


def crash(hub: HubServer) -> datetime:
    """SIGKILL the hub; returns when it is gone (UTC wall time of the kill)."""
    pid = hub.pid
    killed_at = datetime.now(UTC)
    hub.kill()
    assert not process_alive(pid)
    return killed_at


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def shape(document: dict[str, Any]) -> Shape:
    """The node tree without ids and times: (display name, type, phase, children's display names)."""
    nodes = document["status"]["nodes"]
    return {
        (
            n["displayName"].replace(document["metadata"]["name"], "<wf>"),
            n["type"],
            n["phase"],
            tuple(sorted(nodes[c]["displayName"] for c in n.get("children") or [])),
        )
        for n in nodes.values()
    }


def assert_tree_complete(document: dict[str, Any]) -> None:
    """Every node is reachable from the root, every child exists, and nothing is left running."""
    name = document["metadata"]["name"]
    nodes: dict[str, dict[str, Any]] = document["status"]["nodes"]
    assert name in nodes, f"no root node {name}"
    dangling = {c for n in nodes.values() for c in n.get("children") or [] if c not in nodes}
    assert not dangling, f"children missing from status.nodes: {dangling}"
    reachable, todo = set(), [name]
    while todo:
        node_id = todo.pop()
        if node_id not in reachable:
            reachable.add(node_id)
            todo += nodes[node_id].get("children") or []
    assert reachable == set(nodes), f"nodes not reachable from the root: {set(nodes) - reachable}"
    unfinished = {
        n["displayName"]: n["phase"] for n in nodes.values() if n["phase"] in ("Pending", "Running")
    }
    assert not unfinished, f"nodes left unfinished: {unfinished}"
    assert all(n.get("finishedAt") for n in nodes.values()), "a node has no finishedAt"


def started_and_finished(node: dict[str, Any]) -> tuple[datetime, datetime]:
    return parse_time(node["startedAt"]), parse_time(node["finishedAt"])


# ------------------------------------------------------------------------------------- tests


def test_hub_sigkill_reattaches_running_step_and_skips_finished_ones(
    make_hub: MakeHub, recorder: RunRecorder
) -> None:
    hub = make_hub().start()
    name = hub.submit(steps_workflow(recorder))["metadata"]["name"]
    before = wait_phases(hub, name, {"a": "Succeeded", "b": "Running"})
    recorder.wait_for(f"{name} B")
    agent = agent_pid(hub.data_dir)
    assert agent is not None, "no executor agent runs the step"
    b_id = nodes_by_display_name(before)["b"]["id"]

    killed_at = crash(hub)
    assert process_alive(agent), "the executor agent (and the step) must survive the hub"

    hub.start()
    assert agent_pid(hub.data_dir) == agent, "the restarted hub must reattach to the running agent"
    control = hub.submit(steps_workflow(recorder))["metadata"]["name"]
    document = hub.wait_completed(name, RUN_TIMEOUT)
    uninterrupted = hub.wait_completed(control, RUN_TIMEOUT)

    assert document["status"]["phase"] == "Succeeded", document["status"]
    assert runs_of(recorder, name) == ["A", "B", "C"], "each step must run exactly once"
    nodes = nodes_by_display_name(document)
    assert nodes["b"]["id"] == b_id
    started, finished = started_and_finished(nodes["b"])
    assert started <= killed_at < finished, "b is the same run that was in flight at the crash"
    assert (finished - started).total_seconds() >= 3, "b's times are those of its real (4 s) run"
    assert document["status"]["progress"] == "3/3"
    assert_tree_complete(document)
    assert uninterrupted["status"]["phase"] == "Succeeded"
    assert runs_of(recorder, control) == ["A", "B", "C"]
    assert shape(document) == shape(uninterrupted)


def test_dag_with_parallel_branches_resumes_both(make_hub: MakeHub, recorder: RunRecorder) -> None:
    """b1 is still running after the restart (reattached live); c2 ends while no hub runs (its
    exit record is picked up at the restart); d, which needs both, runs once afterwards."""
    hub = make_hub().start()
    name = hub.submit(dag_workflow(recorder))["metadata"]["name"]
    wait_phases(hub, name, {"a": "Succeeded", "b2": "Succeeded", "b1": "Running", "c2": "Running"})
    recorder.wait_for(f"{name} B1", f"{name} C2")

    killed_at = crash(hub)
    time.sleep(1.5)  # c2 (1 s) finishes while the hub is down; b1 (5 s) does not
    hub.start()
    control = hub.submit(dag_workflow(recorder))["metadata"]["name"]
    document = hub.wait_completed(name, RUN_TIMEOUT)
    uninterrupted = hub.wait_completed(control, RUN_TIMEOUT)

    assert document["status"]["phase"] == "Succeeded", document["status"]
    runs = runs_of(recorder, name)
    assert sorted(runs) == ["A", "B1", "B2", "C2", "D"], f"each task must run exactly once: {runs}"
    assert runs[0] == "A" and runs[-1] == "D"
    nodes = nodes_by_display_name(document)
    for task in ("b1", "c2"):
        started, _ = started_and_finished(nodes[task])
        assert started <= killed_at, f"{task} was in flight at the crash and must not have been rerun"
    assert parse_time(nodes["d"]["startedAt"]) >= parse_time(nodes["b1"]["finishedAt"])
    assert document["status"]["progress"] == "5/5"
    assert_tree_complete(document)
    assert uninterrupted["status"]["phase"] == "Succeeded"
    assert shape(document) == shape(uninterrupted)


def test_step_lost_with_its_agent_is_retried_per_retry_strategy(
    make_hub: MakeHub, recorder: RunRecorder
) -> None:
    hub = make_hub().start()
    workflow = steps_workflow(recorder, middle_retry={"limit": "2", "retryPolicy": "Always"})
    name = hub.submit(workflow)["metadata"]["name"]
    wait_phases(hub, name, {"a": "Succeeded", "b(0)": "Running"})
    recorder.wait_for(f"{name} B-0")

    crash(hub)
    assert kill_agent(hub.data_dir) is not None, "no agent to kill"
    hub.start()
    document = hub.wait_completed(name, RUN_TIMEOUT)

    assert document["status"]["phase"] == "Succeeded", document["status"]
    assert runs_of(recorder, name) == ["A", "B-0", "B-1", "C"]
    nodes = nodes_by_display_name(document)
    assert nodes["b"]["type"] == "Retry" and nodes["b"]["phase"] == "Succeeded"
    assert (nodes["b(0)"]["phase"], nodes["b(0)"].get("message")) == ("Error", "pod deleted")
    assert nodes["b(1)"]["phase"] == "Succeeded"
    assert "b(2)" not in nodes
    assert_tree_complete(document)


def test_step_lost_with_its_agent_fails_the_workflow_without_retry_strategy(
    make_hub: MakeHub, recorder: RunRecorder
) -> None:
    hub = make_hub().start()
    name = hub.submit(steps_workflow(recorder))["metadata"]["name"]
    wait_phases(hub, name, {"a": "Succeeded", "b": "Running"})
    recorder.wait_for(f"{name} B")

    crash(hub)
    assert kill_agent(hub.data_dir) is not None, "no agent to kill"
    hub.start()
    document = hub.wait_completed(name, RUN_TIMEOUT)

    # Argo (v4): a deleted pod's node is Error "pod deleted", which makes its step group Error and
    # the Steps node, hence the workflow, Failed with the group's message.
    assert document["status"]["phase"] == "Failed", document["status"]
    nodes = nodes_by_display_name(document)
    assert (nodes["b"]["phase"], nodes["b"].get("message")) == ("Error", "pod deleted")
    assert nodes["a"]["phase"] == "Succeeded"
    group_message = f"step group deemed errored due to child {name}[1].b error: pod deleted"
    assert (nodes["[1]"]["phase"], nodes["[1]"].get("message")) == ("Error", group_message)
    assert (nodes[name]["phase"], document["status"].get("message")) == ("Failed", group_message)
    assert "c" not in nodes and "[2]" not in nodes
    assert runs_of(recorder, name) == ["A", "B"], "nothing runs after the lost step, nothing runs twice"
    assert_tree_complete(document)
