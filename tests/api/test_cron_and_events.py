"""CronWorkflowService, EventSourceService, SensorService and the event endpoint over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import NS, assert_argo_error, echo, ok, requires_isolation, unique, wait_done
from tests.support.processes import free_port, wait_for

pytestmark = requires_isolation

CRON = f"/api/v1/cron-workflows/{NS}"
SOURCES = f"/api/v1/event-sources/{NS}"
SENSORS = f"/api/v1/sensors/{NS}"
HEADER = {"apiVersion": "argoproj.io/v1alpha1"}


def cron(name: str, schedule: str = "0 0 1 1 *", **spec: Any) -> dict[str, Any]:
    workflow_spec = {"entrypoint": "main", "templates": [echo("main")]}
    return {
        **HEADER,
        "kind": "CronWorkflow",
        "metadata": {"name": name, "labels": {"suite": name}},
        "spec": {"schedules": [schedule], "workflowSpec": workflow_spec, **spec},
    }


def webhook_source(name: str, endpoint: str, port: int) -> dict[str, Any]:
    webhook = {"hook": {"endpoint": endpoint, "method": "POST", "port": str(port)}}
    return {**HEADER, "kind": "EventSource", "metadata": {"name": name}, "spec": {"webhook": webhook}}


def sensor(name: str, source: str, event: str) -> dict[str, Any]:
    """A sensor that starts a workflow echoing ``body.message`` of the event."""
    workflow = {
        **HEADER,
        "kind": "Workflow",
        "metadata": {"generateName": f"{name}-", "labels": {"suite": name}},
        "spec": {
            "entrypoint": "say",
            "arguments": {"parameters": [{"name": "message"}]},
            "templates": [
                {
                    "name": "say",
                    "inputs": {"parameters": [{"name": "message"}]},
                    "container": {"image": "busybox", "command": ["echo", "{{inputs.parameters.message}}"]},
                }
            ],
        },
    }
    parameters = [
        {
            "src": {"dependencyName": "dep", "dataKey": "body.message"},
            "dest": "spec.arguments.parameters.0.value",
        }
    ]
    argo_workflow = {"operation": "submit", "source": {"resource": workflow}, "parameters": parameters}
    trigger = {"template": {"name": "run", "argoWorkflow": argo_workflow}}
    return {
        **HEADER,
        "kind": "Sensor",
        "metadata": {"name": name},
        "spec": {
            "dependencies": [{"name": "dep", "eventSourceName": source, "eventName": event}],
            "triggers": [trigger],
        },
    }


def runs_labelled(api: httpx.Client, label: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ok(
        api.get(f"/api/v1/workflows/{NS}", params={"listOptions.labelSelector": f"suite={label}"})
    )["items"]
    return items


# ------------------------------------------------------------------------------------- cron workflows


def test_cron_workflow_lifecycle(api: httpx.Client) -> None:
    name = unique("cron")
    created = ok(api.post(CRON, json={"cronWorkflow": cron(name)}))
    assert created["metadata"]["name"] == name and created["metadata"]["resourceVersion"] == "1"
    assert created["status"] == {"active": []}
    assert ok(api.get(f"{CRON}/{name}"))["spec"]["schedules"] == ["0 0 1 1 *"]
    listed = ok(api.get(CRON, params={"listOptions.labelSelector": f"suite={name}"}))["items"]
    assert [i["metadata"]["name"] for i in listed] == [name]

    suspended = ok(api.put(f"{CRON}/{name}/suspend"))
    assert suspended["spec"]["suspend"] is True
    assert ok(api.get(f"{CRON}/{name}"))["spec"]["suspend"] is True
    resumed = ok(api.put(f"{CRON}/{name}/resume"))
    assert resumed["spec"]["suspend"] is False

    changed = cron(name, "30 2 * * *", timezone="Europe/Paris")
    updated = ok(api.put(f"{CRON}/{name}", json={"cronWorkflow": changed}))
    assert updated["spec"]["timezone"] == "Europe/Paris"
    assert int(updated["metadata"]["resourceVersion"]) > int(resumed["metadata"]["resourceVersion"])

    assert ok(api.delete(f"{CRON}/{name}")) == {}
    assert_argo_error(api.get(f"{CRON}/{name}"), 404, f'cronworkflows.argoproj.io "{name}" not found')
    for command in ("suspend", "resume"):
        assert_argo_error(api.put(f"{CRON}/{name}/{command}"), 404)


def test_cron_workflow_status_lists_its_active_runs(api: httpx.Client) -> None:
    name = unique("cron-active")
    manifest = cron(name)
    manifest["spec"]["workflowSpec"]["templates"] = [
        {"name": "main", "container": {"image": "busybox", "command": ["sleep", "30"]}}
    ]
    ok(api.post(CRON, json={"cronWorkflow": manifest}))
    body = {"resourceKind": "CronWorkflow", "resourceName": name}
    run = ok(api.post(f"/api/v1/workflows/{NS}/submit", json=body))["metadata"]
    try:
        active = ok(api.get(f"{CRON}/{name}"))["status"]["active"]
        assert active == [
            {
                "kind": "Workflow",
                "apiVersion": "argoproj.io/v1alpha1",
                "namespace": NS,
                "name": run["name"],
                "uid": run["uid"],
            }
        ]
    finally:
        ok(api.put(f"/api/v1/workflows/{NS}/{run['name']}/terminate"))
    wait_done(api, run["name"])
    assert ok(api.get(f"{CRON}/{name}"))["status"]["active"] == []


def test_cron_workflow_errors(api: httpx.Client) -> None:
    name = unique("cron-bad")
    body = assert_argo_error(api.post(CRON, json={"cronWorkflow": cron(name, "every tuesday")}), 400)
    assert body["details"][0]["field"] == "spec.schedules[0]"
    ok(api.post(CRON, json={"cronWorkflow": cron(name)}))
    assert_argo_error(api.post(CRON, json={"cronWorkflow": cron(name)}), 409, "already exists")
    bad_spec = cron(name)
    bad_spec["spec"]["workflowSpec"]["entrypoint"] = "missing"
    body = assert_argo_error(api.put(f"{CRON}/{name}", json={"cronWorkflow": bad_spec}), 400)
    assert body["details"][0]["field"].startswith("spec.workflowSpec")
    assert_argo_error(api.post(CRON, json={"cron": cron(name)}), 400, "body.cronWorkflow")


def test_cron_workflow_lint(api: httpx.Client) -> None:
    name = unique("cron-lint")
    assert ok(api.post(f"{CRON}/lint", json={"cronWorkflow": cron(name)}))["metadata"]["name"] == name
    assert_argo_error(api.get(f"{CRON}/{name}"), 404)
    assert_argo_error(api.post(f"{CRON}/lint", json={"cronWorkflow": cron(name, "61 * * * *")}), 400)


# ------------------------------------------------------------------------------------- event sources


def test_event_source_lifecycle_serves_and_stops_its_endpoint(api: httpx.Client) -> None:
    name, port = unique("source"), free_port()
    path = f"/{name}"
    created = ok(api.post(SOURCES, json={"eventSource": webhook_source(name, path, port)}))
    assert created["metadata"]["name"] == name
    assert ok(api.post(path, json={"message": "hi"}))["id"]
    assert [i["metadata"]["name"] for i in ok(api.get(SOURCES))["items"]].count(name) == 1

    moved = webhook_source(name, f"{path}-moved", port)
    assert ok(api.put(f"{SOURCES}/{name}", json={"eventSource": moved}))["metadata"]["resourceVersion"] == "2"
    assert api.post(path, json={}).status_code == 404
    ok(api.post(f"{path}-moved", json={}))
    assert ok(api.get(f"{SOURCES}/{name}"))["spec"]["webhook"]["hook"]["endpoint"] == f"{path}-moved"

    assert ok(api.delete(f"{SOURCES}/{name}")) == {}
    assert api.post(f"{path}-moved", json={}).status_code == 404
    assert_argo_error(api.get(f"{SOURCES}/{name}"), 404, f'eventsources.argoproj.io "{name}" not found')


def test_event_source_errors(api: httpx.Client) -> None:
    name = unique("source-bad")
    unsupported = {**HEADER, "kind": "EventSource", "metadata": {"name": name}, "spec": {"amqp": {"x": {}}}}
    body = assert_argo_error(api.post(SOURCES, json={"eventSource": unsupported}), 400)
    assert body["details"][0]["field"].startswith("spec.amqp")
    assert_argo_error(api.put(f"{SOURCES}/{name}", json={"eventSource": unsupported}), 404)
    assert_argo_error(api.delete(f"{SOURCES}/{name}"), 404)


# ------------------------------------------------------------------------------------- sensors and events


def test_argo_event_endpoint_triggers_a_sensor(api: httpx.Client) -> None:
    name = unique("sensor")
    discriminator = unique("disc")
    created = ok(api.post(SENSORS, json={"sensor": sensor(name, "argo-events-api", discriminator)}))
    assert created["metadata"]["name"] == name
    assert ok(api.get(f"{SENSORS}/{name}"))["spec"]["dependencies"][0]["eventName"] == discriminator

    response = api.post(f"/api/v1/events/{NS}/{discriminator}", json={"message": "from the event API"})
    assert ok(response) == {}
    event_id = response.headers["X-Triggerfish-Event-Id"]

    run = wait_for(lambda: runs_labelled(api, name) or None, 20, "the sensor to start a workflow")[0]
    done = wait_done(api, run["metadata"]["name"])
    assert done["status"]["phase"] == "Succeeded"
    assert done["spec"]["arguments"]["parameters"][0]["value"] == "from the event API"
    event = ok(api.get(f"/api/v1/triggerfish/events/{event_id}"))
    assert (event["source"], event["type"], event["subject"]) == (
        "argo-events-api",
        "argo.event",
        discriminator,
    )


def test_event_endpoint_idempotency_and_bad_json(api: httpx.Client) -> None:
    path = f"/api/v1/events/{NS}/{unique('idem')}"
    first = api.post(path, json={"n": 1}, headers={"Idempotency-Key": "k1"})
    again = api.post(path, json={"n": 1}, headers={"Idempotency-Key": "k1"})
    assert first.headers["X-Triggerfish-Event-Id"] == again.headers["X-Triggerfish-Event-Id"]
    bad = api.post(path, content=b"{not json", headers={"Content-Type": "application/json"})
    assert_argo_error(bad, 400)


def test_sensor_update_replaces_it_and_delete_stops_it(api: httpx.Client) -> None:
    name = unique("sensor-upd")
    old, new = unique("old"), unique("new")
    ok(api.post(SENSORS, json={"sensor": sensor(name, "argo-events-api", old)}))
    updated = ok(api.put(f"{SENSORS}/{name}", json={"sensor": sensor(name, "argo-events-api", new)}))
    assert updated["metadata"]["resourceVersion"] == "2"
    ok(api.post(f"/api/v1/events/{NS}/{old}", json={"message": "ignored"}))
    ok(api.post(f"/api/v1/events/{NS}/{new}", json={"message": "picked up"}))
    run = wait_for(lambda: runs_labelled(api, name) or None, 20, "the updated sensor to fire")[0]
    assert run["spec"]["arguments"]["parameters"][0]["value"] == "picked up"

    assert ok(api.delete(f"{SENSORS}/{name}")) == {}
    assert_argo_error(api.get(f"{SENSORS}/{name}"), 404, f'sensors.argoproj.io "{name}" not found')
    assert len(runs_labelled(api, name)) == 1


def test_sensor_errors(api: httpx.Client) -> None:
    name = unique("sensor-bad")
    manifest = sensor(name, "x", "y")
    manifest["spec"]["triggers"][0]["template"]["kafka"] = {"topic": "t"}
    del manifest["spec"]["triggers"][0]["template"]["argoWorkflow"]
    body = assert_argo_error(api.post(SENSORS, json={"sensor": manifest}), 400, "kafka")
    assert body["details"]
    ok(api.post(SENSORS, json={"sensor": sensor(name, "x", "y")}))
    assert_argo_error(api.post(SENSORS, json={"sensor": sensor(name, "x", "y")}), 409)
