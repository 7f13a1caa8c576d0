"""Loading Sensor manifests: Argo's field names, validation with YAML paths, refusals by name."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from sensors.spec import backoff_policy, load_sensor
from workflow_runtime.spec.errors import ManifestError

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "argo-events"

BASE: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Sensor",
    "metadata": {"name": "webhook", "namespace": "argo-events"},
    "spec": {
        "template": {"serviceAccountName": "operate-workflow-sa"},
        "replicas": 2,
        "eventBusName": "default",
        "dependencies": [{"name": "test-dep", "eventSourceName": "webhook", "eventName": "example"}],
        "triggers": [{"template": {"name": "log-trigger", "log": {"intervalSeconds": 5}}}],
    },
}


def sensor(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    for path, value in changes.items():
        target = doc
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[keys[-1]] = value
    return doc


def refusal(doc: dict[str, Any]) -> str:
    with pytest.raises(ManifestError) as excinfo:
        load_sensor(doc)
    return str(excinfo.value)


def test_loads_with_argo_field_names() -> None:
    loaded = load_sensor(BASE)
    assert loaded.name == "webhook"
    assert loaded.namespace_or("default") == "argo-events"
    assert loaded.spec.dependencies[0].event_source_name == "webhook"
    trigger = loaded.spec.triggers[0]
    assert trigger.template is not None and trigger.template.kind == "log"
    assert trigger.template.log is not None and trigger.template.log.interval_seconds == 5


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        (
            {"template": {"name": "k", "nats": {"url": "k:4222", "subject": "t"}}},
            "spec.triggers[0].template.nats: trigger kind 'nats' is not supported",
        ),
        ({"template": {"name": "s", "slack": {}}}, "trigger kind 'slack' is not supported"),
        ({"template": {"name": "x"}}, "spec.triggers[0].template: no trigger kind set"),
        (
            {"template": {"name": "x", "log": {}, "http": {"url": "http://a"}}},
            "more than one trigger kind set: http, log",
        ),
        ({"template": {"name": "", "log": {}}}, "spec.triggers[0].template.name: trigger must define a name"),
        (
            {"template": {"name": "x", "argoWorkflow": {"operation": "resume", "source": {"resource": {}}}}},
            "operation 'resume' is not supported by Triggerfish yet",
        ),
        (
            {"template": {"name": "x", "argoWorkflow": {"operation": "bogus", "source": {"resource": {}}}}},
            "unknown operation type bogus",
        ),
        (
            {
                "template": {
                    "name": "x",
                    "argoWorkflow": {
                        "args": ["--serviceaccount", "x"],
                        "source": {"resource": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow"}},
                    },
                }
            },
            "argoWorkflow.args: argo CLI arguments are not supported",
        ),
        (
            {
                "template": {
                    "name": "x",
                    "k8s": {
                        "operation": "patch",
                        "source": {"resource": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow"}},
                    },
                }
            },
            "operation 'patch' is not supported",
        ),
        (
            {"template": {"name": "x", "k8s": {"source": {"resource": {"apiVersion": "v1", "kind": "Pod"}}}}},
            "k8s.source.resource.kind: creating a 'Pod' resource is not supported",
        ),
        (
            {"template": {"name": "x", "k8s": {"source": {"s3": {"bucket": {"name": "b"}}}}}},
            "k8s.source.s3: not supported by Triggerfish yet",
        ),
        (
            {"template": {"name": "x", "k8s": {"operation": "create"}}},
            "k8s trigger does not contain an absolute action",
        ),
        (
            {"template": {"name": "x", "http": {"url": "http://a", "method": "HEAD"}}},
            "only GET, DELETE, PATCH, POST and PUT methods are supported",
        ),
        (
            {"template": {"name": "x", "http": {"url": "http://a", "tls": {"caCertSecret": {}}}}},
            "http.tls: not supported by Triggerfish yet",
        ),
        (
            {"template": {"name": "x", "log": {}}, "policy": {"k8s": {"labels": {"a": "b"}}}},
            "policy.k8s: not supported by Triggerfish yet",
        ),
        (
            {"template": {"name": "x", "log": {}}, "rateLimit": {"unit": "Second"}},
            "rateLimit.requestsPerUnit: must be greater than 0",
        ),
        (
            {"template": {"name": "x", "log": {}}, "retryStrategy": {"duration": "10"}},
            "invalid duration '10'",
        ),
        ({"template": {"name": "x", "log": {}}, "retryStrategy": {"factor": "two"}}, "invalid factor"),
        (
            {
                "template": {"name": "x", "log": {}},
                "dlqTrigger": {"template": {"name": "d", "log": {}}, "atLeastOnce": True},
            },
            "to use dlqTrigger, trigger.atLeastOnce must be set to true",
        ),
        (
            {
                "template": {"name": "x", "log": {}},
                "atLeastOnce": True,
                "dlqTrigger": {"template": {"name": "d", "log": {}}},
            },
            "atLeastOnce must be set to true within the dlqTrigger",
        ),
        (
            {"template": {"name": "x", "log": {}}, "parameters": [{"src": {"dependencyName": "test-dep"}}]},
            "parameters[0].dest: parameter destination can't be empty",
        ),
        (
            {"template": {"name": "x", "log": {}}, "parameters": [{"dest": "a"}]},
            "parameters[0].src: parameter source can't be empty",
        ),
        (
            {"template": {"name": "x", "log": {}, "conditions": "test-dep && other"}},
            "conditions: unknown dependency 'other' in conditions",
        ),
        (
            {"template": {"name": "x", "log": {}, "conditionsReset": [{"byTime": {"cron": "not cron"}}]}},
            "conditionsReset[0].byTime: invalid cron expression",
        ),
    ],
)
def test_triggers_refused_by_name(trigger: dict[str, Any], message: str) -> None:
    assert message in refusal(sensor(spec__triggers=[trigger]))


@pytest.mark.parametrize(
    ("dependency", "message"),
    [
        (
            {"name": "d", "eventSourceName": "w", "eventName": "e", "filters": {"script": "return true"}},
            "filters.script: not supported by Triggerfish yet",
        ),
        (
            {"name": "d", "eventSourceName": "w", "eventName": "e", "transform": {"jq": "."}},
            "transform: not supported by Triggerfish yet",
        ),
        (
            {"name": "d", "eventSourceName": "w", "eventName": ""},
            "eventName: event dependency must define the EventName",
        ),
        (
            {
                "name": "d",
                "eventSourceName": "w",
                "eventName": "e",
                "filters": {"data": [{"path": "a", "type": "string"}]},
            },
            "type, path and value must be not empty",
        ),
        (
            {
                "name": "d",
                "eventSourceName": "w",
                "eventName": "e",
                "filters": {"data": [{"path": "a", "type": "date", "value": ["x"]}]},
            },
            "unsupported JSON type 'date'",
        ),
        (
            {
                "name": "d",
                "eventSourceName": "w",
                "eventName": "e",
                "filters": {"data": [{"path": "a", "type": "number", "value": ["1"], "comparator": "~"}]},
            },
            "filters.data[0].comparator",
        ),
        (
            {
                "name": "d",
                "eventSourceName": "w",
                "eventName": "e",
                "filters": {"exprs": [{"expr": "a", "fields": []}]},
            },
            "expr and fields must be not empty",
        ),
        (
            {"name": "d", "eventSourceName": "w", "eventName": "e", "filters": {"context": {}}},
            "no fields specified in ctx filter",
        ),
        (
            {
                "name": "d",
                "eventSourceName": "w",
                "eventName": "e",
                "filters": {"time": {"start": "10:00:00", "stop": "10:00:00"}},
            },
            "is equal to start",
        ),
        (
            {
                "name": "d",
                "eventSourceName": "w",
                "eventName": "e",
                "filters": {"time": {"start": "10:00", "stop": "11:00:00"}},
            },
            "filters.time: parsing time",
        ),
        (
            {"name": "d", "eventSourceName": "w", "eventName": "e", "filtersLogicalOperator": "xor"},
            "filtersLogicalOperator",
        ),
    ],
)
def test_dependencies_refused_by_name(dependency: dict[str, Any], message: str) -> None:
    doc = sensor(spec__dependencies=[dependency])
    doc["spec"]["triggers"] = [{"template": {"name": "x", "log": {}, "conditions": "d"}}]
    assert message in refusal(doc)


def test_every_problem_is_reported() -> None:
    doc = sensor(spec__dependencies=[], spec__triggers=[])
    doc["apiVersion"] = "argoproj.io/v1alpha1"
    message = refusal(doc)
    assert "spec.dependencies: no event dependencies found" in message
    assert "spec.triggers: no triggers found" in message
    assert "apiVersion" in refusal({**BASE, "apiVersion": "v1"})


def test_duplicate_names() -> None:
    doc = sensor()
    doc["spec"]["triggers"] = [{"template": {"name": "a", "log": {}}}, {"template": {"name": "a", "log": {}}}]
    assert "duplicate trigger name: a" in refusal(doc)


def test_backoff_defaults() -> None:
    none = backoff_policy(None)
    assert (none.steps, list(none.delays(lambda: 0.5))) == (1, [])
    loaded = load_sensor(
        sensor(
            spec__triggers=[
                {
                    "template": {"name": "x", "log": {}},
                    "retryStrategy": {"steps": 3, "duration": "500s", "factor": "5.0"},
                }
            ]
        )
    )
    policy = backoff_policy(loaded.spec.triggers[0].retry_strategy)
    assert (policy.steps, policy.duration, policy.factor, policy.jitter) == (3, 500.0, 5.0, 1.0)
    assert list(policy.delays(lambda: 0.0)) == [500.0, 2500.0]
    ns = load_sensor(
        sensor(
            spec__triggers=[{"template": {"name": "x", "log": {}}, "retryStrategy": {"duration": 1000000000}}]
        )
    )
    assert backoff_policy(ns.spec.triggers[0].retry_strategy).duration == 1.0  # integers are nanoseconds
    assert backoff_policy(ns.spec.triggers[0].retry_strategy).steps == 5


# ---------------------------------------------------------------- the Argo Events corpus

REFUSED = {
    # trigger kinds not implemented yet
    "sensors/aws-lambda-trigger.yaml": "awsLambda",
    "sensors/azure-event-hubs-sensor.yaml": "azureEventHubs",
    "sensors/azure-service-bus-sensor.yaml": "azureServiceBus",
    "sensors/custom-trigger.yaml": "custom",
    "sensors/email-trigger.yaml": "email",
    "sensors/slack-trigger.yaml": "slack",
    "sensors/trigger-nats-messages.yaml": "nats",
    # resource sources not implemented yet
    "sensors/complete-trigger-parameterization.yaml": "source.s3",
    "sensors/context-filter-webhook.yaml": "source.s3",
    "sensors/multi-trigger-sensor.yaml": "source.s3",
    "sensors/trigger-source-configmap.yaml": "source.configmap",
    "sensors/trigger-source-git.yaml": "source.git",
    "sensors/url-sensor.yaml": "source.url",
    # a Lua script filter
    "sensors/filter-script.yaml": "filters.script",
    # standard k8s resources other than Workflow
    "sensors/trigger-standard-k8s-resource.yaml": "source.resource.kind",
    "sensors/trigger-standard-k8s-resource-shortened.yaml": "source.resource.kind",
    # fields in the wrong place (Kubernetes prunes them; Triggerfish names them instead)
    "sensors/trigger-with-policy.yaml": "template.policy: unknown field",
    "sensors/trigger-openwhisk.yaml": "template.openwhisk: unknown field",
}


def corpus() -> list[Path]:
    if not CONFORMANCE.is_dir():
        return []
    files = sorted((CONFORMANCE / "sensors").glob("*.y*ml")) + sorted(
        (CONFORMANCE / "e2e-testdata").glob("sensor-*.yaml")
    )
    return files


@pytest.mark.skipif(
    not CONFORMANCE.is_dir(), reason=f"Argo Events conformance corpus not found at {CONFORMANCE}"
)
@pytest.mark.parametrize("path", corpus(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_conformance_sensor(path: Path) -> None:
    relative = f"{path.parent.name}/{path.name}"
    sensors = [
        doc
        for doc in yaml.safe_load_all(path.read_text())
        if isinstance(doc, dict) and doc.get("kind") == "Sensor"
    ]
    assert sensors, f"{relative} holds no Sensor"
    for doc in sensors:
        if relative in REFUSED:
            with pytest.raises(ManifestError) as excinfo:
                load_sensor(doc, relative)
            assert REFUSED[relative] in str(excinfo.value)
            assert "not supported" in str(excinfo.value) or "unknown field" in str(excinfo.value)
        else:
            loaded = load_sensor(doc, relative)
            assert loaded.spec.triggers
