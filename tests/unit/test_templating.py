"""Argo {{...}} substitution: simple tags, expression tags, unresolved handling, scopes."""

from __future__ import annotations

import json
import timeit
from typing import Any

import pytest

from triggerfish.expressions.govaluate import evaluate_when
from workflow_runtime.templating import Scope, Tag, TemplateError, find_tags, render, render_value

SCOPE = Scope(
    {
        "inputs.parameters.msg": "hello",
        "inputs.parameters.my-param": "dash",
        "inputs.parameters.count": "3",
        "inputs.parameters.json": '{"a": [1, 2]}',
        "steps.flip-coin.outputs.result": "heads",
        "workflow.name": "wf-abc",
        "workflow.parameters.data": "",
        "item": '{"name":"first","type":""}',
        "item.name": "first",
        "item.type": "",
        "tasks.skipped.outputs.parameters.p": None,
    }
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no tags at all", "no tags at all"),
        ("hello {{inputs.parameters.msg}}", "hello hello"),
        ("{{ inputs.parameters.msg }}", "hello"),
        ("{{inputs.parameters.my-param}}", "dash"),
        ("{{steps.flip-coin.outputs.result}} == heads", "heads == heads"),
        ("{{item}}", '{"name":"first","type":""}'),
        ("{{item.name}}-{{item.type}}!", "first-!"),
        ("{{workflow.name}}{{workflow.name}}", "wf-abcwf-abc"),
        ("a {{ {{inputs.parameters.msg}}", "a {{ hello"),
        ("}} stray close {{inputs.parameters.msg}}", "}} stray close hello"),
        # expression tags: strings as-is, other values as Go JSON (argo-workflows v4)
        ("{{=inputs.parameters.msg}}", "hello"),
        ("{{= inputs.parameters['my-param'] }}", "dash"),
        ('{{= inputs.parameters["my-param"] + "!" }}', "dash!"),
        ("{{= sprig.upper(inputs.parameters.msg) }}", "HELLO"),
        ("{{= asInt(inputs.parameters.count) + 1 }}", "4"),
        ("{{= asInt(inputs.parameters.count) / 2 }}", "1.5"),
        ("{{= 1000000.0 }}", "1000000"),
        ("{{= inputs.parameters.count == '3' }}", "true"),
        ("{{= ['a', 'b'] }}", '["a","b"]'),
        ("{{= fromJSON(inputs.parameters.json) }}", '{"a":[1,2]}'),
        ("{{= {'x': '<b>'} }}", '{"x":"\\u003cb\\u003e"}'),
        ("{{= steps['flip-coin'].outputs.result == 'heads' ? 'win' : 'lose' }}", "win"),
        ("{{= get(item, 'type') ?? 'always' }}", ""),
        ("{{= tasks.skipped.outputs.parameters.p ?? 'fallback' }}", "fallback"),
        ("{{= workflow.parameters.data != '' }}", "false"),
        ("x={{= 1 + 1 }}, y={{inputs.parameters.msg}}", "x=2, y=hello"),
    ],
)
def test_render_resolved(text: str, expected: str) -> None:
    assert render(text, SCOPE, allow_unresolved=False) == expected
    assert render(text, SCOPE, allow_unresolved=True) == expected


@pytest.mark.parametrize(
    "text",
    [
        "{{inputs.parameters.nope}}",
        "{{ steps.other.outputs.result }}",
        "{{= inputs.parameters.nope + 'x' }}",
        "{{= steps.other.outputs.result == 'a' }}",
        "{{= inputs.parameters.msg.deeper.still }}",
        "{{= sprig.int(retries) + 1 }}",
        "{{= workflow.status == 'Succeeded' ? 'ok' : 'bad' }}",
        "{{= lastRetry.exitCode == 1 }}",
        "{{= item.missing.deeper }}",
        "{{= undefinedFunction(1) }}",
    ],
)
def test_unresolved_tags_are_kept_verbatim_when_allowed(text: str) -> None:
    assert render(f"<{text}>", SCOPE, allow_unresolved=True) == f"<{text}>"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{{inputs.parameters.nope}}", "failed to resolve {{inputs.parameters.nope}}"),
        ("{{ steps.other.outputs.result }}", "failed to resolve {{ steps.other.outputs.result }}"),
        ("{{item.nope}}", "failed to resolve {{item.nope}}"),
        (
            "{{= inputs.parameters.nope + 'x' }}",
            "failed to evaluate expression: inputs.parameters.nope is missing",
        ),
        ("{{= sprig.int(retries) }}", "failed to evaluate expression: retries is missing"),
        ("{{= workflow.status }}", "failed to evaluate expression: workflow.status is missing"),
    ],
)
def test_unresolved_tags_fail_when_not_allowed(text: str, reason: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render(text, SCOPE, allow_unresolved=False)
    assert caught.value.reason == reason
    assert caught.value.tag == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # every name resolves, so failures are real errors even when unresolved tags are allowed
        ("{{= 1 + }}", "failed to evaluate expression: unexpected end of input"),
        (
            "{{= asInt(inputs.parameters.msg) }}",
            "failed to evaluate expression: invalid operation: int(hello)",
        ),
        (
            "{{= inputs.parameters.msg[9] }}",
            "failed to evaluate expression: index out of range: 9 (array length is 5)",
        ),
        ("{{= nil ?? nil }}", 'failed to evaluate expression " nil ?? nil "'),
        (
            "{{tasks.skipped.outputs.parameters.p}}",
            "failed to resolve {{tasks.skipped.outputs.parameters.p}} to string",
        ),
        (
            "oops {{ unclosed",
            'Cannot find end tag="}}" in the template="oops {{ unclosed" starting from " unclosed"',
        ),
    ],
)
def test_errors_regardless_of_allow_unresolved(text: str, reason: str) -> None:
    for allow in (False, True):
        with pytest.raises(TemplateError) as caught:
            render(text, SCOPE, allow_unresolved=allow)
        assert caught.value.reason == reason


@pytest.mark.parametrize(
    "text", ["{{custom.variable}}", "{{ foo }}", "{{retries}}", "{{ = not-an-expression }}", "{{}}"]
)
def test_unknown_prefixes_always_pass_through(text: str) -> None:
    assert render(text, SCOPE, allow_unresolved=False) == text
    assert render(text, SCOPE, allow_unresolved=True) == text


def test_find_tags() -> None:
    text = "a {{ inputs.parameters.x }} b {{=sprig.trim(y)}} {{custom}}"
    assert find_tags(text) == [
        Tag("simple", " inputs.parameters.x ", 2, 27),
        Tag("expression", "sprig.trim(y)", 30, 48),
        Tag("simple", "custom", 49, 59),
    ]
    assert [text[t.start : t.end] for t in find_tags(text)] == [t.source for t in find_tags(text)]
    assert find_tags("plain") == []
    with pytest.raises(TemplateError):
        find_tags("{{ never closed")


def test_render_value_walks_nested_structures() -> None:
    template: dict[str, Any] = {
        "name": "{{workflow.name}}",
        "container": {"args": ["echo", "{{inputs.parameters.msg}}", 3, None, True]},
        "labels": {"{{item.name}}": "{{= 2 * 2 }}"},
    }
    rendered = render_value(template, SCOPE, allow_unresolved=False)
    assert rendered == {
        "name": "wf-abc",
        "container": {"args": ["echo", "hello", 3, None, True]},
        "labels": {"first": "4"},
    }
    assert template["name"] == "{{workflow.name}}"


def test_scope_is_immutable_and_layers() -> None:
    base = Scope({"inputs.parameters.a": "1"})
    child = base.child(item="x")
    layered = child.with_values({"inputs.parameters.a": "2", "steps.s.outputs.result": "r"})
    assert "item" not in base
    assert child.get("item") == "x"
    assert layered.get("inputs.parameters.a") == "2"
    assert base.get("inputs.parameters.a") == "1"
    assert len(layered) == 3
    assert dict(layered.variables) == {"inputs.parameters.a": "2", "item": "x", "steps.s.outputs.result": "r"}
    with pytest.raises(TypeError):
        layered.variables["x"] = "y"  # type: ignore[index]


def test_scope_env_is_nested_like_argos_expand() -> None:
    scope = Scope({"a.b": "1", "a.c.d": "2", "a": "parent-loses", "ab": "4", "a-b": "5", "x": ["list"]})
    assert scope.env == {"a": {"b": "1", "c": {"d": "2"}}, "ab": "4", "a-b": "5", "x": ["list"]}
    assert scope.env is scope.env
    assert scope.has_path("a.c.d")
    assert scope.has_path("a.c")
    assert not scope.has_path("a.z")
    assert not scope.has_path("a.b.c")


def test_missing_variables_only_make_failures_tolerable() -> None:
    """A missing name does not force the tag verbatim: a `??` fallback still applies (v4)."""
    text = "{{= inputs.parameters.nope ?? 'fallback' }}"
    assert render(text, SCOPE, allow_unresolved=True) == "fallback"
    with pytest.raises(TemplateError):
        render(text, SCOPE, allow_unresolved=False)


def test_expression_values_can_be_structured() -> None:
    scope = Scope({"item": {"name": "obj", "tags": ["t1", "t2"]}})
    assert render("{{= item.tags[1] }}", scope, allow_unresolved=False) == "t2"
    assert render("{{= len(item.tags) }}", scope, allow_unresolved=False) == "2"


def test_steps_when_expr_filter_example() -> None:
    """functional/steps-when-expr-filter.yaml: all four items run."""
    parameters = Scope({"inputs.parameters.test": "true"})
    list_value = render(
        "{{= concat(['always'], inputs.parameters.test == 'true' ? ['test'] : []) | toJSON() }}",
        parameters,
        allow_unresolved=False,
    )
    when = (
        "\"{{= get(item, 'type') ?? 'always' }}\"\n in\n"
        '("{{= inputs.parameters.list | fromJSON() | join(\'","\') }}","")\n'
    )
    outer = parameters.with_values({"inputs.parameters.list": list_value})
    assert render(when, outer, allow_unresolved=True).startswith("\"{{= get(item, 'type') ?? 'always' }}\"")
    items = [
        {"name": "first", "type": ""},
        {"name": "second", "type": "always"},
        {"name": "third", "type": "test"},
    ]
    items.append({"name": "fourth"})
    for item in items:
        flat = {"item": json.dumps(item)} | {f"item.{k}": v for k, v in item.items()}
        rendered = render(when, outer.with_values(flat), allow_unresolved=False)
        assert evaluate_when(rendered) is True


def test_conditionals_example() -> None:
    """functional/conditionals.yaml with the default should-print=true."""
    scope = Scope(
        {
            "inputs.parameters.should-print": "true",
            "workflow.parameters.should-print": "true",
            "workflow.parameters.json": '[{"name":"should-print","value":"true"}]',
        }
    )
    for when in (
        "{{inputs.parameters.should-print}} == true",
        "{{= inputs.parameters[\"should-print\"] == 'true'}}",
        "{{=jsonpath(workflow.parameters.json, '$[0].value') == 'true'}}",
    ):
        assert evaluate_when(render(when, scope, allow_unresolved=False)) is True


def test_render_is_fast() -> None:
    scope = Scope(
        {f"inputs.parameters.p{i}": f"v{i}" for i in range(18)} | {"inputs.parameters.msg": "m", "item": "i"}
    )
    text = "hello {{inputs.parameters.msg}} {{item}}"
    assert render(text, scope, allow_unresolved=False) == "hello m i"
    runs = 20000
    per_call = timeit.timeit(lambda: render(text, scope, allow_unresolved=False), number=runs) / runs
    assert per_call < 20e-6
