from __future__ import annotations

import pytest

from workflow_runtime.executors.base import ExecutorError
from workflow_runtime.executors.images import ImageConfig, ImageTable, parse_image


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("alpine", ("alpine", None)),
        ("alpine:3.23", ("alpine", "3.23")),
        ("docker.io/library/alpine:3.23", ("alpine", "3.23")),
        ("library/alpine", ("alpine", None)),
        ("quay.io/argoproj/argosay:v2", ("argoproj/argosay", "v2")),
        ("localhost:5000/team/tool:1.0", ("team/tool", "1.0")),
        ("localhost:5000/tool", ("tool", None)),
        ("alpine:3.23@sha256:abcd", ("alpine", "3.23")),
        ("argoproj/argosay", ("argoproj/argosay", None)),
    ],
)
def test_parse_image_drops_registry_library_and_digest(
    reference: str, expected: tuple[str, str | None]
) -> None:
    assert parse_image(reference) == expected


@pytest.mark.parametrize(
    ("image", "args", "argv"),
    [
        ("argoproj/argosay:v2", [], ["argosay"]),
        ("argoproj/argosay:v2", ["echo", "hi"], ["argosay", "echo", "hi"]),
        ("docker.io/argoproj/argosay:v2", ["exit", "1"], ["argosay", "exit", "1"]),
        ("argoproj/argosay:v1", [], ["cowsay"]),
        ("argoproj/argosay:v1", ["cowsay", "hi"], ["cowsay", "hi"]),
        ("docker/whalesay:latest", [], ["/bin/bash"]),
        ("alpine:3.23", [], ["sh"]),
        ("docker.io/library/alpine:3.23", ["echo", "x"], ["echo", "x"]),
        ("busybox", [], ["sh"]),
        ("debian:9.4", [], ["bash"]),
        ("ubuntu", [], ["bash"]),
        ("python:alpine3.23", [], ["python3"]),
        ("node:9.1-alpine", [], ["node"]),
    ],
)
def test_defaults_resolve_entrypoint_and_cmd(image: str, args: list[str], argv: list[str]) -> None:
    assert ImageTable().argv(image, [], args) == argv


def test_command_wins_over_the_table_even_for_unknown_images() -> None:
    table = ImageTable()
    assert table.argv("argoproj/argosay:v2", ["sh", "-c"], ["echo hi"]) == ["sh", "-c", "echo hi"]
    assert table.argv("nobody/knows:1", ["true"], []) == ["true"]


def test_user_entries_override_defaults_and_accept_config_file_form() -> None:
    table = ImageTable(
        {"alpine": {"cmd": ["ash"]}, "tool:1.*": ImageConfig(entrypoint=("tool",), cmd=("--help",))}
    )
    assert table.argv("alpine:3.23", [], []) == ["ash"]
    assert table.argv("registry.example.com/tool:1.4", [], []) == ["tool", "--help"]
    assert table.argv("tool:1.4", [], ["run"]) == ["tool", "run"]
    assert table.lookup("tool:2.0") is None


def test_exact_tag_beats_longer_pattern_beats_bare_name() -> None:
    table = ImageTable(
        {
            "python": ImageConfig(cmd=("any",)),
            "python:3.*": ImageConfig(cmd=("three",)),
            "python:3.11": ImageConfig(cmd=("exact",)),
        },
        include_defaults=False,
    )
    assert table.argv("python:3.11", [], []) == ["exact"]
    assert table.argv("python:3.12", [], []) == ["three"]
    assert table.argv("python:2.7", [], []) == ["any"]
    assert table.argv("python", [], []) == ["any"]


def test_untagged_image_is_latest() -> None:
    table = ImageTable({"app:latest": ImageConfig(cmd=("app",))}, include_defaults=False)
    assert table.argv("app", [], []) == ["app"]
    assert table.lookup("app:v2") is None


def test_unknown_image_without_command_names_image_and_configuration() -> None:
    with pytest.raises(ExecutorError) as raised:
        ImageTable().argv("example.com/team/mystery:1.0", [], ["x"])
    message = str(raised.value)
    assert "'example.com/team/mystery:1.0' is not in" in message
    assert "command" in message
    assert "images={'team/mystery'" in message


def test_entry_without_entrypoint_or_cmd_needs_args() -> None:
    table = ImageTable({"scratch": ImageConfig()}, include_defaults=False)
    assert table.argv("scratch", [], ["/bin/app"]) == ["/bin/app"]
    with pytest.raises(ExecutorError, match="has no entrypoint or cmd"):
        table.argv("scratch", [], [])


def test_without_defaults_nothing_is_known() -> None:
    with pytest.raises(ExecutorError):
        ImageTable(include_defaults=False).argv("alpine", [], [])


@pytest.mark.parametrize(
    "entry",
    [{"entrypoint": "sh"}, {"command": ["sh"]}, {"cmd": ["sh", 1]}],
)
def test_malformed_entries_are_rejected(entry: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="image table entry 'bad'"):
        ImageTable({"bad": entry})  # type: ignore[dict-item]
