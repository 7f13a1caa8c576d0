"""Trigger parameters: resolution from events and sjson destinations (Argo's params_test.go cases)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from sensors.parameters import (
    ParameterError,
    Resolved,
    apply_params,
    construct_payload,
    render_trigger,
    resolve_param_value,
    set_path,
)
from sensors.spec import (
    ArgoWorkflowTrigger,
    StandardK8sTrigger,
    Trigger,
    TriggerParameter,
    TriggerParameterSource,
)
from triggerfish.events import Event, new_event

TIME = datetime(2024, 5, 6, 12, 0, 0, tzinfo=UTC)


def make_event(data: Any, *, subject: str = "example-1", content_type: str = "application/json") -> Event:
    return new_event(
        id="1",
        source="webhook-gateway",
        type="webhook",
        subject=subject,
        data=data,
        time=TIME,
        datacontenttype=content_type,
    )


EVENT = make_event(
    {
        "name": {"first": "fake", "last": "user"},
        "reviews": 8,
        "rating": 4.5,
        "isActive": True,
        "isVerified": False,
        "countries": ["ca", "us", "mx"],
        "age": 100,
        "nothing": None,
    }
)
EVENTS = {"fake-dependency": EVENT}


def src(**kwargs: Any) -> TriggerParameterSource:
    return TriggerParameterSource.model_validate({"dependencyName": "fake-dependency", **kwargs})


def param(dest: str, operation: str = "", **kwargs: Any) -> TriggerParameter:
    return TriggerParameter.model_validate(
        {"src": src(**kwargs).model_dump(by_alias=True), "dest": dest, "operation": operation}
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"dataKey": "name.first"}, "fake"),
        ({"contextKey": "subject"}, "example-1"),
        ({"contextKey": "time"}, "2024-05-06T12:00:00Z"),
        ({"value": "hello"}, "hello"),
        ({"contextKey": "subject", "dataKey": "name.first"}, "fake"),
        ({"dataTemplate": "{{ .Input.name.first }}"}, "fake"),
        ({"dataTemplate": "{{ upper .Input.name.first }}"}, "FAKE"),
        ({"contextTemplate": "{{ .Input.subject }}"}, "example-1"),
        ({"contextTemplate": '{{ .Input.subject | replace "-" "_" }}'}, "example_1"),
        ({"contextTemplate": "{{ .Input.subject }}", "dataTemplate": "{{ .Input.name.first }}"}, "fake"),
        ({"dataTemplate": "{{ .Input.name.non_exist }}", "dataKey": "name.first"}, "fake"),
        ({"dataTemplate": "{{ no }}", "dataKey": "name.first"}, "fake"),
        ({"dataKey": "name.first", "useRawData": True}, "fake"),
        ({"dataKey": "name", "useRawData": True}, '{"first":"fake","last":"user"}'),
        ({"dataKey": "countries", "useRawData": True}, '["ca","us","mx"]'),
        ({"dataKey": "reviews"}, "8"),
        ({"dataKey": "rating"}, "4.5"),
        ({"dataKey": "nothing"}, "null"),
        ({"dataKey": "missing", "value": "default"}, "default"),
        ({"dataTemplate": "{{ .Input.reviews }}"}, "8"),
    ],
)
def test_resolve_param_value(source: dict[str, Any], expected: str) -> None:
    resolved = resolve_param_value(src(**source), EVENTS)
    assert resolved is not None
    assert resolved.text == expected


def test_whole_event_when_no_key_is_given() -> None:
    resolved = resolve_param_value(src(), EVENTS)
    assert resolved is not None
    document = json.loads(resolved.text)
    assert list(document) == ["context", "data"]
    assert document["context"] == {
        "id": "1",
        "source": "webhook-gateway",
        "specversion": "1.0",
        "type": "webhook",
        "datacontenttype": "application/json",
        "subject": "example-1",
        "time": "2024-05-06T12:00:00Z",
    }
    assert json.loads(base64.b64decode(document["data"]))["name"] == {"first": "fake", "last": "user"}


def test_missing_dependency_uses_the_default_or_is_skipped() -> None:
    assert resolve_param_value(
        TriggerParameterSource(dependency_name="other", value="d"), EVENTS
    ) == Resolved("d", "String")
    assert resolve_param_value(TriggerParameterSource(dependency_name="other", data_key="a"), EVENTS) is None


def test_unresolvable_value_is_an_error() -> None:
    with pytest.raises(ParameterError, match="unable to resolve 'fake-dependency' parameter value"):
        resolve_param_value(src(dataKey="missing"), EVENTS)


def test_unsupported_content_type_falls_back_to_default() -> None:
    events = {"fake-dependency": make_event(b"\x00\x01", content_type="application/octet-stream")}
    assert resolve_param_value(src(dataKey="a", value="v"), events) == Resolved("v", "String")
    with pytest.raises(ParameterError, match="unsupported event content type"):
        resolve_param_value(src(dataKey="a"), events)


def test_yaml_event_data() -> None:
    events = {"fake-dependency": make_event(b"name: test\nage: 20\n", content_type="application/x-yaml")}
    resolved = resolve_param_value(src(dataKey="age", useRawData=True), events)
    assert resolved == Resolved("20", "Number")


@pytest.mark.parametrize(
    ("parameters", "document", "expected"),
    [
        ([param("name", dataKey="name.first")], {"name": "faker"}, {"name": "fake"}),
        ([param("name", "prepend", dataKey="name.first")], {"name": "faker"}, {"name": "fakefaker"}),
        ([param("name", "append", dataKey="name.first")], {"name": "faker"}, {"name": "fakerfake"}),
        ([param("name", "overwrite", dataKey="name.first")], {"name": "faker"}, {"name": "fake"}),
        (
            [param("name", "overwrite", dataKey="name")],
            {"name": "faker"},
            {"name": '{"first":"fake","last":"user"}'},
        ),
        (
            [param("name", "overwrite", dataKey="name", useRawData=True)],
            {"name": "faker"},
            {"name": {"first": "fake", "last": "user"}},
        ),
        (
            [
                param("age", "overwrite", dataKey="age", useRawData=True),
                param("ageWithYears", "append", dataKey="age", useRawData=True),
                param("countries", "append", dataKey="countries", useRawData=True),
            ],
            {"age": "this-gets-over-written", "ageWithYears": "Years: "},
            {"age": 100, "ageWithYears": "Years: 100", "countries": ["ca", "us", "mx"]},
        ),
        (
            [param("spec.arguments.parameters.0.value", dataKey="name.first")],
            {"spec": {"arguments": {"parameters": [{"name": "message", "value": "hello"}]}}},
            {"spec": {"arguments": {"parameters": [{"name": "message", "value": "fake"}]}}},
        ),
        (
            [param("spec.arguments.parameters.1.value", dataKey="reviews", useRawData=True)],
            {"spec": {"arguments": {"parameters": [{"name": "a"}]}}},
            {"spec": {"arguments": {"parameters": [{"name": "a"}, {"value": 8}]}}},
        ),
        ([param("list.-1", dataKey="name.last")], {"list": ["x"]}, {"list": ["x", "user"]}),
        ([param("new.deep.key", dataKey="isActive", useRawData=True)], {}, {"new": {"deep": {"key": True}}}),
        ([param("fav\\.movie", dataKey="name.first")], {}, {"fav.movie": "fake"}),
        ([param("x", dataKey="a", value="v")], {}, {"x": "v"}),
        (
            [
                TriggerParameter.model_validate(
                    {"src": {"dependencyName": "absent", "dataKey": "a"}, "dest": "x"}
                )
            ],
            {"x": 1},
            {"x": 1},
        ),
    ],
)
def test_apply_params(parameters: list[TriggerParameter], document: Any, expected: Any) -> None:
    original = json.loads(json.dumps(document))
    assert apply_params(document, parameters, EVENTS) == expected
    assert document == original  # the input is not modified


def test_set_path_creates_lists_for_numeric_keys() -> None:
    assert set_path(None, "a.0.b", 1) == {"a": [{"b": 1}]}
    assert set_path({"a": [1]}, "a.3", 4) == {"a": [1, None, None, 4]}
    assert set_path({"a": {"0": "x"}}, "a.0", "y") == {"a": {"0": "y"}}
    with pytest.raises(ParameterError):
        set_path({"a": [1]}, "a.b", 2)


def test_construct_payload() -> None:
    events = {
        "fake-dependency": make_event({"firstName": "fake"}),
        "another-fake-dependency": make_event({"lastName": "foo"}),
        "use-event-data-type": make_event({"age": 100, "isActive": False, "countries": ["ca", "us", "mx"]}),
    }

    def p(dep: str, key: str, dest: str, **extra: Any) -> TriggerParameter:
        return TriggerParameter.model_validate(
            {"src": {"dependencyName": dep, "dataKey": key, **extra}, "dest": dest}
        )

    parameters = [
        p("fake-dependency", "firstName", "firstName", value="faker"),
        p("another-fake-dependency", "lastName", "lastName", value="bar"),
        p("use-event-data-type", "age", "age", useRawData=True),
        p("use-event-data-type", "isActive", "isActive", useRawData=True),
        p("use-event-data-type", "age", "typelessAge"),
        p("use-event-data-type", "isActive", "typelessIsActive"),
    ]
    body = json.loads(construct_payload(events, parameters))
    assert body == {
        "firstName": "fake",
        "lastName": "foo",
        "age": 100,
        "isActive": False,
        "typelessAge": "100",
        "typelessIsActive": "false",
    }
    parameters[0] = p("fake-dependency", "unknown", "firstName", value="faker")
    assert json.loads(construct_payload(events, parameters))["firstName"] == "faker"
    whole = TriggerParameter.model_validate(
        {"src": {"dependencyName": "fake-dependency", "dataKey": "firstName"}}
    )
    assert construct_payload(events, [whole]) == b"fake"
    assert construct_payload(events, []) == b""


GITHUB_TRIGGER = {
    "template": {
        "name": "github-workflow-trigger",
        "k8s": {
            "operation": "create",
            "source": {
                "resource": {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Workflow",
                    "metadata": {"generateName": "github-"},
                    "spec": {
                        "entrypoint": "print-message",
                        "arguments": {
                            "parameters": [{"name": "pr-title"}, {"name": "pr-number"}, {"name": "short-sha"}]
                        },
                    },
                }
            },
            "parameters": [
                {
                    "src": {"dependencyName": "test-dep", "dataKey": "body.pull_request.title"},
                    "dest": "spec.arguments.parameters.0.value",
                },
                {
                    "src": {"dependencyName": "test-dep", "dataKey": "body.pull_request.number"},
                    "dest": "spec.arguments.parameters.1.value",
                },
                {
                    "src": {
                        "dependencyName": "test-dep",
                        "dataTemplate": "{{ .Input.body.pull_request.head.sha | substr 0 7 }}",
                    },
                    "dest": "spec.arguments.parameters.2.value",
                },
                {
                    "src": {
                        "dependencyName": "test-dep",
                        "dataTemplate": (
                            "{{ .Input.body.pull_request.number }}-"
                            "{{ .Input.body.pull_request.head.sha | substr 0 7 }}"
                        ),
                    },
                    "dest": "metadata.name",
                    "operation": "append",
                },
            ],
        },
    },
    "parameters": [
        {"src": {"dependencyName": "test-dep", "dataKey": "body.repository.name"}, "dest": "name"}
    ],
}


def test_render_trigger_applies_template_then_resource_parameters() -> None:
    events = {
        "test-dep": make_event(
            {
                "body": {
                    "pull_request": {"title": "Fix it", "number": 21500, "head": {"sha": "2c065a9f4d"}},
                    "repository": {"name": "repo"},
                }
            }
        )
    }
    rendered = render_trigger(Trigger.model_validate(GITHUB_TRIGGER), events)
    assert rendered.kind == "k8s"
    assert rendered.template.name == "repo"  # template-level parameter
    assert isinstance(rendered.spec, StandardK8sTrigger) and rendered.spec.source is not None
    resource = rendered.spec.source.resource
    assert resource is not None
    assert resource["metadata"] == {"generateName": "github-", "name": "21500-2c065a9"}
    assert [p.get("value") for p in resource["spec"]["arguments"]["parameters"]] == [
        "Fix it",
        "21500",
        "2c065a9",
    ]
    # the manifest model is left untouched for the next firing
    assert "name" not in GITHUB_TRIGGER["template"]["k8s"]["source"]["resource"]["metadata"]  # type: ignore[index]


def test_render_http_trigger_parameters_and_inline_source(tmp_path: Any) -> None:
    trigger = Trigger.model_validate(
        {
            "template": {
                "name": "h",
                "http": {
                    "url": "http://placeholder/",
                    "parameters": [{"src": {"dependencyName": "d", "dataKey": "url"}, "dest": "url"}],
                },
            }
        }
    )
    rendered = render_trigger(trigger, {"d": make_event({"url": "http://example.test/hook"})})
    assert rendered.spec.url == "http://example.test/hook"  # type: ignore[union-attr]
    assert rendered.spec.method == "POST"  # type: ignore[union-attr]

    path = tmp_path / "wf.yaml"
    path.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  generateName: from-file-\n"
    )
    from_file = Trigger.model_validate(
        {"template": {"name": "f", "argoWorkflow": {"source": {"file": {"path": str(path)}}}}}
    )
    spec = render_trigger(from_file, {}).spec
    assert (
        isinstance(spec, ArgoWorkflowTrigger) and spec.source is not None and spec.source.resource is not None
    )
    assert spec.source.resource["metadata"]["generateName"] == "from-file-"
    missing = Trigger.model_validate(
        {"template": {"name": "f", "argoWorkflow": {"source": {"file": {"path": str(tmp_path / "no")}}}}}
    )
    with pytest.raises(ParameterError, match="cannot read trigger source file"):
        render_trigger(missing, {})
