"""The artifact repository as configured once for the hub: the local directory store, the key format
(``{{workflow.name}}/{{pod.name}}`` by default), ``artifactRepositoryRef``, secrets and archiveLogs."""

from __future__ import annotations

from pathlib import Path

import pytest

from triggerfish.config import load_settings
from workflow_runtime.artifacts.context import (
    DEFAULT_KEY_FORMAT,
    ArtifactContext,
    RepositoryConfig,
    context_from_settings,
)
from workflow_runtime.artifacts.local import LocalRepository
from workflow_runtime.artifacts.repository import ArtifactError, ArtifactNotFound, check_key
from workflow_runtime.spec.common import ArtifactRepositoryRef, S3Artifact, SecretKeySelector

VARIABLES = {"workflow.name": "wf-abc", "workflow.namespace": "team", "pod.name": "wf-abc-main-123"}


def test_keys_are_relative_and_normalised() -> None:
    assert check_key("/wf/pod//out.tgz") == "wf/pod/out.tgz"
    for bad in ("", "/", ".", "..", "../etc/passwd", "a/../../b"):
        with pytest.raises(ArtifactError, match="invalid artifact key"):
            check_key(bad)


def test_local_repository_stores_files_and_directories(tmp_path: Path) -> None:
    repo = LocalRepository(tmp_path / "repo")
    (tmp_path / "f").write_text("one")
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "sub" / "x").write_text("x")
    repo.save("wf/pod/f.tgz", tmp_path / "f")
    repo.save("wf/pod/d", tmp_path / "d")
    assert repo.exists("wf/pod/f.tgz") and repo.exists("wf/pod/d") and not repo.exists("wf/other")
    repo.load("wf/pod/f.tgz", tmp_path / "f2")
    repo.load("wf/pod/d", tmp_path / "d2")
    assert (tmp_path / "f2").read_text() == "one"
    assert (tmp_path / "d2" / "sub" / "x").read_text() == "x"
    (tmp_path / "f").write_text("two")
    repo.save("wf/pod/f.tgz", tmp_path / "f")  # overwrite
    assert (tmp_path / "repo" / "wf" / "pod" / "f.tgz").read_text() == "two"
    with pytest.raises(ArtifactNotFound, match="does not exist"):
        repo.load("wf/missing", tmp_path / "nothing")


def test_default_key_format_is_workflow_then_pod(tmp_path: Path) -> None:
    context = ArtifactContext(RepositoryConfig(local=tmp_path), staging=tmp_path / "staging")
    step = context.for_step(None, VARIABLES, "uid/pod")
    assert DEFAULT_KEY_FORMAT == "{{workflow.name}}/{{pod.name}}"
    assert step.prefix == "wf-abc/wf-abc-main-123"
    assert step.staging == tmp_path / "staging" / "uid" / "pod"


def test_custom_key_format_and_its_errors(tmp_path: Path) -> None:
    config = RepositoryConfig(local=tmp_path, key_format="{{workflow.namespace}}/runs/{{pod.name}}")
    step = ArtifactContext(config).for_step(None, VARIABLES, "uid/pod")
    assert step.prefix == "team/runs/wf-abc-main-123"
    broken = RepositoryConfig(local=tmp_path, key_format="{{workflow.nope}}/x")
    step = ArtifactContext(broken).for_step(None, VARIABLES, "uid/pod")
    assert step.problem is not None and "keyFormat" in step.problem
    with pytest.raises(ArtifactError, match="keyFormat"):
        step.repository()


def test_no_repository_errors_only_when_used(tmp_path: Path) -> None:
    step = ArtifactContext().for_step(None, VARIABLES, "uid/pod")
    with pytest.raises(ArtifactError, match="not configured with a default archive location"):
        step.repository()


def test_artifact_repository_ref_names_a_configured_repository(tmp_path: Path) -> None:
    minio = RepositoryConfig(local=tmp_path / "minio")
    context = ArtifactContext(
        RepositoryConfig(local=tmp_path / "default"),
        repositories={"artifact-repositories/minio": minio, "other/only": RepositoryConfig(local=tmp_path)},
    )
    assert context.repository_for(None).local == tmp_path / "default"
    assert context.repository_for(ArtifactRepositoryRef(key="minio")) is minio
    assert context.repository_for(ArtifactRepositoryRef(config_map="other")).local == tmp_path
    with pytest.raises(
        ArtifactError, match=r"artifactRepositoryRef.*'artifact-repositories/gcs'.*configured"
    ):
        context.repository_for(ArtifactRepositoryRef(key="gcs"))


def test_secret_references_resolve_from_the_hubs_secrets() -> None:
    context = ArtifactContext(secrets={"minio-cred": {"accesskey": "AK"}})
    assert context.secret(SecretKeySelector(name="minio-cred", key="accesskey")) == "AK"
    assert context.secret(None) is None
    assert context.secret(SecretKeySelector(name="gone", key="k", optional=True)) is None
    with pytest.raises(ArtifactError, match='secrets "gone" not found'):
        context.secret(SecretKeySelector(name="gone", key="k"))
    with pytest.raises(ArtifactError, match="does not have the key 'secretkey'"):
        context.secret(SecretKeySelector(name="minio-cred", key="secretkey"))
    with pytest.raises(ArtifactError, match="not found"):
        context.bucket(S3Artifact(bucket="b", access_key_secret=SecretKeySelector(name="gone", key="k")))
    with pytest.raises(ArtifactError, match=r"s3\.bucket is required"):
        context.bucket(S3Artifact(key="k"))


@pytest.mark.parametrize(
    ("repository", "workflow", "template", "archived"),
    [
        (False, None, None, False),
        (True, None, None, True),
        (True, False, False, True),  # the repository's setting wins, as in Argo
        (False, True, None, True),
        (False, True, False, False),  # the template's archiveLocation wins over the workflow
        (False, False, True, True),
    ],
)
def test_archive_logs_precedence(
    tmp_path: Path, repository: bool, workflow: bool | None, template: bool | None, archived: bool
) -> None:
    context = ArtifactContext(RepositoryConfig(local=tmp_path, archive_logs=repository))
    step = context.for_step(None, VARIABLES, "uid/pod", archive_logs=(workflow, template))
    assert step.archive_logs is archived


def test_settings_build_the_default_and_named_repositories(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        secrets={"minio": {"accesskey": "AK", "secretkey": "SK"}},
        artifact_repository={"key_format": "{{workflow.name}}", "archive_logs": True},
        artifact_repositories={
            "artifact-repositories/minio": {
                "s3": {
                    "bucket": "artifacts",
                    "endpoint": "127.0.0.1:9000",
                    "insecure": True,
                    "access_key_secret": {"name": "minio", "key": "accesskey"},
                    "secret_key_secret": {"name": "minio", "key": "secretkey"},
                }
            }
        },
    )
    context = context_from_settings(settings)
    assert context.repository == RepositoryConfig(
        local=tmp_path / "artifacts", key_format="{{workflow.name}}", archive_logs=True
    )
    minio = context.repositories["artifact-repositories/minio"]
    assert minio.local is None and minio.s3 is not None
    assert minio.s3.bucket == "artifacts" and minio.s3.endpoint == "127.0.0.1:9000" and minio.s3.insecure
    assert context.secret(minio.s3.access_key_secret) == "AK"
    assert context.secret(minio.s3.secret_key_secret) == "SK"
    with pytest.raises(ValueError, match="local_dir or s3, not both"):
        load_settings(artifact_repository={"local_dir": str(tmp_path), "s3": {"bucket": "b"}})
