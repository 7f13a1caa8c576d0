"""DAG `depends` logic: parsing, Argo's task-result semantics and the legacy `dependencies` list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from triggerfish.expressions.errors import ExpressionError
from workflow_runtime.depends import DependencyState, dependencies_to_depends, parse_depends

S = DependencyState


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("A", {"A"}),
        ("A && B", {"A", "B"}),
        ("stage-a && (stage-b || stage-b.Skipped)", {"stage-a", "stage-b"}),
        ("producer-1 && producer-2 && producer-3", {"producer-1", "producer-2", "producer-3"}),
        ("!task_1.Failed", {"task_1"}),
        ("  ", set()),
    ],
)
def test_task_names(source: str, names: set[str]) -> None:
    assert parse_depends(source).task_names == frozenset(names)


@pytest.mark.parametrize(
    ("source", "states", "expected"),
    [
        # a bare name is Succeeded || Skipped || Daemoned
        ("A", {"A": S("Succeeded")}, True),
        ("A", {"A": S("Skipped")}, True),
        ("A", {"A": S("Running", daemoned=True)}, True),
        ("A", {"A": S("Pending", daemoned=True)}, False),
        ("A", {"A": S("Failed")}, False),
        ("A", {"A": S("Error")}, False),
        ("A", {"A": S("Omitted")}, False),
        # ...widened by the dependency's continueOn
        ("A", {"A": S("Failed", continue_on_failed=True)}, True),
        ("A", {"A": S("Error", continue_on_error=True)}, True),
        ("A", {"A": S("Error", continue_on_failed=True)}, False),
        # explicit results: Failed is phase Failed only, Errored is phase Error
        ("A.Succeeded", {"A": S("Succeeded")}, True),
        ("A.Failed", {"A": S("Failed")}, True),
        ("A.Failed", {"A": S("Error")}, False),
        ("A.Errored", {"A": S("Error")}, True),
        ("A.Errored", {"A": S("Failed")}, False),
        ("A.Skipped", {"A": S("Skipped")}, True),
        ("A.Omitted", {"A": S("Omitted")}, True),
        ("A.Daemoned", {"A": S("Succeeded", daemoned=True)}, True),
        ("A.Daemoned", {"A": S("Succeeded")}, False),
        ("A.Succeeded", {"A": S("Skipped")}, False),
        # expanded tasks: children phases
        ("A.AnySucceeded", {"A": S("Failed", children_phases=("Failed", "Succeeded"))}, True),
        ("A.AnySucceeded", {"A": S("Failed", children_phases=("Failed", "Error"))}, False),
        ("A.AllFailed", {"A": S("Failed", children_phases=("Failed", "Failed"))}, True),
        ("A.AllFailed", {"A": S("Failed", children_phases=("Failed", "Error"))}, False),
        ("A.AllFailed", {"A": S("Failed", children_phases=())}, False),
        ("A.AnySucceeded", {"A": S("Succeeded")}, False),
        # operators and precedence: ! binds tightest, && before ||
        ("A && B", {"A": S("Succeeded"), "B": S("Failed")}, False),
        ("A || B", {"A": S("Succeeded"), "B": S("Failed")}, True),
        ("!A.Failed", {"A": S("Succeeded")}, True),
        ("!!A", {"A": S("Succeeded")}, True),
        ("A.Failed || B && C", {"A": S("Failed"), "B": S("Failed"), "C": S("Succeeded")}, True),
        ("(A.Failed || B) && C", {"A": S("Succeeded"), "B": S("Succeeded"), "C": S("Failed")}, False),
        ("!(A.Failed || B.Failed)", {"A": S("Succeeded"), "B": S("Succeeded")}, True),
        # from Argo's examples
        ("stage-a.Failed", {"stage-a": S("Failed")}, True),
        ("P && (F.Succeeded || F.Failed)", {"P": S("Succeeded"), "F": S("Failed")}, True),
        (
            "stage-a && (stage-b || stage-b.Omitted)",
            {"stage-a": S("Succeeded"), "stage-b": S("Omitted")},
            True,
        ),
        (
            "should-execute-2.Succeeded || should-not-execute",
            {"should-execute-2": S("Skipped"), "should-not-execute": S("Skipped")},
            True,
        ),
        ("", {}, True),
    ],
)
def test_evaluate(source: str, states: dict[str, DependencyState], expected: bool) -> None:
    assert parse_depends(source).evaluate(states) is expected


def test_evaluation_short_circuits_unneeded_states() -> None:
    assert parse_depends("A || B").evaluate({"A": S("Succeeded")}) is True


def test_missing_state_is_an_error() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_depends("A && B").evaluate({"A": S("Succeeded")})
    assert caught.value.reason == "no state for task B"


@pytest.mark.parametrize(
    ("source", "reason", "position"),
    [
        ("A.Foo", "task result 'Foo' for task 'A' is invalid", 2),
        ("A.succeeded", "task result 'succeeded' for task 'A' is invalid", 2),
        ("(A && B", "unexpected end of input", 7),
        ("A && B)", "unexpected token )", 6),
        ("A &&", "unexpected end of input", 4),
        ("A B", "unexpected token B", 2),
        ("A & B", "unrecognized character '&'", 2),
        ("A.", "unexpected end of input", 2),
    ],
)
def test_syntax_errors(source: str, reason: str, position: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_depends(source)
    assert (caught.value.reason, caught.value.position) == (reason, position)


def test_dependencies_to_depends() -> None:
    assert dependencies_to_depends(["A", "B-2"]) == "A && B-2"
    assert dependencies_to_depends([]) == ""
    expression = parse_depends(dependencies_to_depends(["A", "B"]))
    assert expression.task_names == frozenset({"A", "B"})
    assert expression.evaluate({"A": S("Skipped"), "B": S("Succeeded")}) is True
    assert expression.evaluate({"A": S("Failed"), "B": S("Succeeded")}) is False
    assert expression.evaluate({"A": S("Failed", continue_on_failed=True), "B": S("Succeeded")}) is True


def _conformance_depends() -> list[str]:
    root = Path("/work/shared/conformance/argo-workflows")
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("depends"), str):
                found.append(node["depends"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted(root.rglob("*.yaml")) if root.is_dir() else []:
        try:
            for document in yaml.safe_load_all(path.read_text()):
                walk(document)
        except yaml.YAMLError:
            continue
    return sorted(set(found))


@pytest.mark.parametrize("source", _conformance_depends() or ["A"])
def test_every_conformance_depends_parses(source: str) -> None:
    expression = parse_depends(source)
    assert expression.task_names
    assert isinstance(expression.evaluate({name: S("Succeeded") for name in expression.task_names}), bool)
