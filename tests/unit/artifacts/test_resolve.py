"""Input artifacts: what ``from`` refers to, ``subPath``, binding arguments to a template's inputs,
and fetching them to the host before the step starts (raw, repository keys, archives, mode)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from workflow_runtime.artifacts.archive import pack
from workflow_runtime.artifacts.context import ArtifactContext, RepositoryConfig, StepArtifacts
from workflow_runtime.artifacts.repository import ArtifactError
from workflow_runtime.artifacts.resolve import (
    UnresolvedArtifact,
    artifact_from,
    bind_artifacts,
    expressions_as_references,
    stage_inputs,
    with_sub_path,
)
from workflow_runtime.spec.common import Arguments, Artifact
from workflow_runtime.spec.template import Template
from workflow_runtime.templating import Scope

PRODUCED = {"name": "out", "path": "/tmp/out", "s3": {"key": "wf/pod/out.tgz"}}


def template(*inputs: dict[str, object]) -> Template:
    return Template.model_validate(
        {"name": "t", "inputs": {"artifacts": list(inputs)}, "container": {"image": "busybox"}}
    )


def arguments(*artifacts: dict[str, object]) -> Arguments:
    return Arguments.model_validate({"artifacts": list(artifacts)})


def test_from_renders_to_the_recorded_artifact() -> None:
    scope = Scope({"steps.gen.outputs.artifacts.out": json.dumps(PRODUCED)})
    found = artifact_from("{{steps.gen.outputs.artifacts.out}}", scope)
    assert found.s3 is not None and found.s3.key == "wf/pod/out.tgz"
    with pytest.raises(UnresolvedArtifact, match=r'Unable to resolve: "steps\.other\.outputs\.artifacts\.x"'):
        artifact_from("{{steps.other.outputs.artifacts.x}}", scope)
    with pytest.raises(ArtifactError, match="is not an artifact"):
        artifact_from("plain text", scope)


def test_from_expression_becomes_an_expression_reference() -> None:
    body = {"arguments": {"artifacts": [{"name": "a", "fromExpression": "tasks.x.outputs.artifacts.o"}]}}
    converted = expressions_as_references(body)
    assert converted["arguments"]["artifacts"] == [{"name": "a", "from": "{{=tasks.x.outputs.artifacts.o}}"}]
    assert expressions_as_references({"arguments": {}}) == {"arguments": {}}


def test_sub_path_appends_to_the_key() -> None:
    artifact = Artifact.model_validate(PRODUCED)
    narrowed = with_sub_path(artifact, "dir/file.txt")
    assert narrowed.s3 is not None and narrowed.s3.key == "wf/pod/out.tgz/dir/file.txt"
    assert with_sub_path(artifact, None) is artifact
    with pytest.raises(ArtifactError, match="subPath"):
        with_sub_path(Artifact.model_validate({"name": "r", "raw": {"data": "x"}}), "a")


def test_arguments_replace_inputs_but_keep_their_path_and_mode() -> None:
    bound = bind_artifacts(
        template({"name": "message", "path": "/tmp/message", "mode": 0o600}),
        arguments({"name": "message", "from": json.dumps(PRODUCED)}),
    )
    assert [a.to_argo() for a in bound] == [
        {"name": "message", "path": "/tmp/message", "mode": 0o600, "s3": {"key": "wf/pod/out.tgz"}}
    ]


def test_missing_arguments() -> None:
    with pytest.raises(ArtifactError, match=r"inputs\.artifacts\.message was not supplied"):
        bind_artifacts(template({"name": "message", "path": "/tmp/m"}), None)
    optional = bind_artifacts(template({"name": "message", "path": "/tmp/m", "optional": True}), None)
    assert [a.name for a in optional] == ["message"]
    # An optional argument whose producer never made it counts as not supplied.
    skipped = bind_artifacts(
        template({"name": "message", "path": "/tmp/m", "optional": True}),
        arguments({"name": "message", "from": "{{steps.gone.outputs.artifacts.out}}"}),
    )
    assert skipped[0].s3 is None


@pytest.fixture
def step(tmp_path: Path) -> StepArtifacts:
    context = ArtifactContext(RepositoryConfig(local=tmp_path / "repo"), staging=tmp_path / "staging")
    return context.for_step(None, {"workflow.name": "wf", "pod.name": "pod"}, "uid/pod")


def inputs(*artifacts: dict[str, object]) -> list[Artifact]:
    return [Artifact.model_validate(a) for a in artifacts]


def test_stage_raw_keyed_unarchived_and_moded_inputs(step: StepArtifacts, tmp_path: Path) -> None:
    repo = tmp_path / "repo" / "wf" / "pod"
    repo.mkdir(parents=True)
    (tmp_path / "hello.txt").write_text("hello\n")
    pack(tmp_path / "hello.txt", "hello.txt", repo / "out.tgz")
    (repo / "plain.txt").write_text("as is")
    staged = stage_inputs(
        inputs(
            {"name": "raw", "path": "/tmp//raw/", "raw": {"data": "raw data"}},  # normalised below
            {"name": "tgz", "path": "/tmp/in/msg", "s3": {"key": "wf/pod/out.tgz"}, "mode": 0o600},
            {
                "name": "none",
                "path": "/tmp/plain",
                "s3": {"key": "wf/pod/plain.txt"},
                "archive": {"none": {}},
            },
        ),
        step,
    )
    assert set(staged) == {"/tmp/raw", "/tmp/in/msg", "/tmp/plain"}
    assert staged["/tmp/raw"].read_text() == "raw data"
    assert staged["/tmp/in/msg"].read_text() == "hello\n"
    assert stat.S_IMODE(staged["/tmp/in/msg"].stat().st_mode) == 0o600
    assert staged["/tmp/plain"].read_text() == "as is"
    assert all(path.is_relative_to(step.staging) for path in staged.values())
    step.cleanup()
    assert not step.staging.exists()


def test_missing_inputs(step: StepArtifacts) -> None:
    optional = inputs({"name": "o", "path": "/tmp/o", "optional": True, "s3": {"key": "wf/none.tgz"}})
    assert stage_inputs(optional, step) == {}
    with pytest.raises(ArtifactError, match=r"artifact r failed to load: key wf/none.tgz does not exist"):
        stage_inputs(inputs({"name": "r", "path": "/tmp/r", "s3": {"key": "wf/none.tgz"}}), step)
    with pytest.raises(ArtifactError, match="required artifact 'bare' not supplied"):
        stage_inputs(inputs({"name": "bare", "path": "/tmp/b"}), step)
