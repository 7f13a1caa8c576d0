"""The streaming endpoints over real HTTP (Server-Sent Events): workflow watch and step logs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import (
    NS,
    assert_argo_error,
    container,
    create,
    echo,
    get,
    ok,
    requires_isolation,
    sse,
    unique,
    wait_done,
    workflow,
)
from tests.support.processes import HubServer

pytestmark = requires_isolation

WATCH = f"/api/v1/workflow-events/{NS}"
API = f"/api/v1/workflows/{NS}"


def results(messages: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for message in messages:
        assert "result" in message, message
        yield message["result"]


def until_completed(events: Iterator[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """Watch events of ``name`` up to the one where it completed."""
    seen = []
    for event in events:
        if event["object"]["metadata"]["name"] != name:
            continue
        seen.append(event)
        if event["object"]["status"]["phase"] in ("Succeeded", "Failed", "Error"):
            return seen
    raise AssertionError(f"the stream ended before {name} completed: {seen}")


def printer(name: str, lines: int, interval: float, *, stream: str = "") -> dict[str, Any]:
    script = f"for i in $(seq 1 {lines}); do echo line $i {stream}; sleep {interval}; done"
    return container(name, "sh", "-c", script)


# ------------------------------------------------------------------------------------- watch


def test_watch_sees_added_then_modified_until_succeeded(hub: HubServer, api: httpx.Client) -> None:
    label = unique("watch")
    with sse(hub.url, WATCH, {"listOptions.labelSelector": f"suite={label}"}) as messages:
        name = create(api, workflow(labels={"suite": label}, templates=[container("main", "sleep", "1")]))[
            "metadata"
        ]["name"]
        events = until_completed(results(messages), name)
    types = [e["type"] for e in events]
    phases = [e["object"]["status"]["phase"] for e in events]
    assert types[0] == "ADDED" and set(types[1:]) == {"MODIFIED"}, types
    assert "Running" in phases and phases[-1] == "Succeeded", phases
    final = events[-1]["object"]
    assert final["status"]["nodes"][name]["phase"] == "Succeeded", "events carry the node tree"
    assert final["metadata"]["labels"]["workflows.argoproj.io/completed"] == "true"


def test_watch_starts_with_existing_workflows(hub: HubServer, api: httpx.Client) -> None:
    name = create(api, workflow(unique("existing")))["metadata"]["name"]
    wait_done(api, name)
    with sse(hub.url, WATCH, {"listOptions.fieldSelector": f"metadata.name={name}"}) as messages:
        first = next(results(messages))
    assert first["type"] == "ADDED"
    assert first["object"]["status"]["phase"] == "Succeeded"


def test_watch_with_resource_version_skips_existing_and_sees_deletes(
    hub: HubServer, api: httpx.Client
) -> None:
    label = unique("deleted")
    name = create(api, workflow(labels={"suite": label}))["metadata"]["name"]
    wait_done(api, name)
    params = {"listOptions.labelSelector": f"suite={label}", "listOptions.resourceVersion": "1"}
    with sse(hub.url, WATCH, params) as messages:
        ok(api.delete(f"{API}/{name}"))
        event = next(results(messages))
    assert event["type"] == "DELETED"
    assert event["object"]["metadata"]["name"] == name


def test_watch_filters_by_label_and_namespace(hub: HubServer, api: httpx.Client) -> None:
    label = unique("mine")
    with sse(hub.url, WATCH, {"listOptions.labelSelector": f"suite={label}"}) as messages:
        create(api, workflow(labels={"suite": unique("other")}))
        create(api, workflow(labels={"suite": label}), namespace="elsewhere")
        mine = create(api, workflow(labels={"suite": label}))["metadata"]["name"]
        first = next(results(messages))
    assert first["object"]["metadata"]["name"] == mine


def test_watch_sees_a_retry(hub: HubServer, api: httpx.Client) -> None:
    name = unique("retried")
    manifest = workflow(
        name, templates=[container("main", "sh", "-c", '[ "{{workflow.parameters.ok}}" = yes ]')]
    )
    manifest["spec"]["arguments"] = {"parameters": [{"name": "ok", "value": "no"}]}
    create(api, manifest)
    wait_done(api, name)
    with sse(hub.url, WATCH, {"listOptions.fieldSelector": f"metadata.name={name}"}) as messages:
        events = results(messages)
        assert next(events)["object"]["status"]["phase"] == "Failed"
        ok(api.put(f"{API}/{name}/retry", json={"parameters": ["ok=yes"]}))
        phases = [e["object"]["status"]["phase"] for e in until_completed(events, name)]
    assert phases[0] == "Running" and phases[-1] == "Succeeded", phases


def test_watch_sees_workflows_that_sensors_start(hub: HubServer, api: httpx.Client) -> None:
    """Runs created outside the API (here by a sensor's trigger) reach watchers through the
    controller's listener."""
    name, event = unique("watched-sensor"), unique("go")
    resource = workflow(labels={"suite": name})
    trigger = {
        "template": {"name": "run", "argoWorkflow": {"operation": "submit", "source": {"resource": resource}}}
    }
    sensor = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": name},
        "spec": {
            "dependencies": [{"name": "dep", "eventSourceName": "argo-events-api", "eventName": event}],
            "triggers": [trigger],
        },
    }
    ok(api.post(f"/api/v1/sensors/{NS}", json={"sensor": sensor}))
    with sse(hub.url, WATCH, {"listOptions.labelSelector": f"suite={name}"}) as messages:
        ok(api.post(f"/api/v1/events/{NS}/{event}", json={}))
        first = next(results(messages))
        assert first["type"] == "ADDED"
        events = until_completed(results(messages), first["object"]["metadata"]["name"])
    assert events[-1]["object"]["status"]["phase"] == "Succeeded"


@pytest.mark.parametrize(
    "params",
    [{"listOptions.labelSelector": "a in b"}, {"listOptions.fieldSelector": "spec.x=1"}],
)
def test_watch_with_malformed_selectors_is_400(api: httpx.Client, params: dict[str, str]) -> None:
    assert_argo_error(api.get(WATCH, params=params), 400)


# ------------------------------------------------------------------------------------- logs


def log_lines(hub: HubServer, name: str, **params: Any) -> list[tuple[str, str]]:
    with sse(hub.url, f"{API}/{name}/log", params) as messages:
        return [(r["podName"], r["content"]) for r in results(messages)]


def test_follow_streams_lines_as_the_step_writes_them(hub: HubServer, api: httpx.Client) -> None:
    name = unique("follow")
    create(api, workflow(name, templates=[printer("main", 5, 0.6)]))
    arrivals = []
    with sse(hub.url, f"{API}/{name}/log", {"logOptions.follow": "true"}) as messages:
        for result in results(messages):
            arrivals.append((time.monotonic(), result["content"]))
    assert [line for _, line in arrivals] == [f"line {i}" for i in range(1, 6)]
    spread = arrivals[-1][0] - arrivals[0][0]
    assert spread > 1.5, f"lines must arrive as they are written, not all at the end ({spread:.2f}s)"
    assert get(api, name)["status"]["phase"] == "Succeeded", "the stream ends when the workflow does"


def test_follow_covers_every_step_of_a_running_workflow(hub: HubServer, api: httpx.Client) -> None:
    name = unique("follow-steps")
    tasks = [
        {"name": "a", "template": "a"},
        {"name": "b", "template": "b"},
        {"name": "c", "template": "c", "depends": "a && b"},
    ]
    templates = [
        {"name": "main", "dag": {"tasks": tasks}},
        printer("a", 3, 0.3, stream="from a"),
        printer("b", 3, 0.3, stream="from b"),
        echo("c", "last"),
    ]
    create(api, workflow(name, templates=templates))
    lines = log_lines(hub, name, **{"logOptions.follow": "true"})
    by_pod: dict[str, list[str]] = {}
    for pod, line in lines:
        by_pod.setdefault(pod, []).append(line)
    assert sorted(by_pod.values()) == [
        ["last"],
        [f"line {i} from a" for i in (1, 2, 3)],
        [f"line {i} from b" for i in (1, 2, 3)],
    ]
    assert lines[-1][1] == "last"


def test_logs_of_a_finished_workflow(hub: HubServer, api: httpx.Client) -> None:
    name = unique("logs")
    main = {
        "name": "main",
        "steps": [[{"name": "one", "template": "one"}], [{"name": "two", "template": "two"}]],
    }
    two = container("two", "sh", "-c", "echo out; echo err >&2; printf 'no newline'")
    create(api, workflow(name, templates=[main, printer("one", 3, 0), two]))
    wait_done(api, name)

    lines = log_lines(hub, name)
    pods = list(dict.fromkeys(pod for pod, _ in lines))
    assert len(pods) == 2 and all(pod.startswith(f"{name}-") for pod in pods)
    assert [line for _, line in lines] == ["line 1", "line 2", "line 3", "out", "no newline", "err"]

    assert [line for _, line in log_lines(hub, name, podName=pods[1])] == ["out", "no newline", "err"]
    node_id = next(n["id"] for n in get(api, name)["status"]["nodes"].values() if n["displayName"] == "one")
    assert len(log_lines(hub, name, podName=node_id)) == 3
    assert [line for _, line in log_lines(hub, name, grep="^line [23]$")] == ["line 2", "line 3"]
    assert [line for _, line in log_lines(hub, name, **{"logOptions.tailLines": 1})] == ["line 3", "err"]
    assert log_lines(hub, name, **{"logOptions.container": "init"}) == []
    assert log_lines(hub, name, **{"logOptions.container": "main"}) == lines

    with sse(hub.url, f"{API}/{name}/{pods[0]}/log") as messages:
        assert [r["content"] for r in results(messages)] == ["line 1", "line 2", "line 3"]


def test_log_errors(api: httpx.Client) -> None:
    assert_argo_error(api.get(f"{API}/no-such-workflow/log"), 404, "no-such-workflow")
    name = create(api, workflow())["metadata"]["name"]
    wait_done(api, name)
    assert_argo_error(api.get(f"{API}/{name}/log", params={"podName": "no-such-pod"}), 404, "no-such-pod")
    assert_argo_error(
        api.get(f"{API}/{name}/log", params={"logOptions.container": "sidecar"}), 400, "logOptions.container"
    )
    assert_argo_error(api.get(f"{API}/{name}/log", params={"grep": "("}), 400, "grep")
    assert_argo_error(api.get(f"{API}/{name}/log", params={"logOptions.tailLines": -1}), 400)
    assert_argo_error(api.get(f"{API}/{name}/log", params={"logOptions.follow": "maybe"}), 400)
