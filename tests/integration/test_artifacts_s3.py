"""S3 artifacts against a real MinIO: a bucket as the workflow's repository (``artifactRepositoryRef``),
artifacts naming their own endpoint, bucket and key with credentials from the hub's secrets, files and
directories, and the errors a wrong secret or a missing object give."""

from __future__ import annotations

import io
import tarfile
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.support.event_hub import needs_isolation
from tests.support.minio import ACCESS_KEY, SECRET_KEY, MinioServer, minio
from tests.support.workflow_hub import (
    EXECUTORS,
    Finished,
    executor_ready,
    run_workflow,
    running_hub,
    sh,
    workflow,
)
from triggerfish.hub import Hub

pytestmark = [needs_isolation, pytest.mark.minio, pytest.mark.asyncio(loop_scope="module")]

__all__ = ["minio"]  # the session fixture, imported for pytest

SECRET = "minio-cred"
CREDENTIALS = {
    "accessKeySecret": {"name": SECRET, "key": "accesskey"},
    "secretKeySecret": {"name": SECRET, "key": "secretkey"},
}


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=EXECUTORS)
async def hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, minio: MinioServer
) -> AsyncIterator[Hub]:
    repository = {
        "s3": {
            "bucket": "artifacts",
            "endpoint": minio.endpoint,
            "insecure": True,
            "access_key_secret": {"name": SECRET, "key": "accesskey"},
            "secret_key_secret": {"name": SECRET, "key": "secretkey"},
        },
        "archive_logs": True,
    }
    with executor_ready(request.param) as kind:
        async with running_hub(
            tmp_path_factory.mktemp("artifacts-s3"),
            kind,
            secrets={SECRET: {"accesskey": ACCESS_KEY, "secretkey": SECRET_KEY}},
            artifact_repositories={"artifact-repositories/minio": repository},
        ) as hub:
            yield hub


def s3(minio: MinioServer, key: str, bucket: str = "data", **more: Any) -> dict[str, Any]:
    return {"endpoint": minio.endpoint, "bucket": bucket, "key": key, "insecure": True, **CREDENTIALS, **more}


def get(minio: MinioServer, bucket: str, key: str) -> bytes:
    body: bytes = minio.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def saved(finished: Finished, node: str) -> dict[str, dict[str, Any]]:
    return {art["name"]: art for art in (finished.node(node).outputs or {}).get("artifacts") or []}


async def test_a_bucket_as_the_workflows_repository(hub: Hub, minio: MinioServer) -> None:
    produce = sh(
        "produce", "echo from minio > /tmp/msg", outputs={"artifacts": [{"name": "msg", "path": "/tmp/msg"}]}
    )
    consume = sh("consume", "cat /tmp/in", inputs={"artifacts": [{"name": "msg", "path": "/tmp/in"}]})
    main = {
        "name": "main",
        "steps": [
            [{"name": "produce", "template": "produce"}],
            [
                {
                    "name": "consume",
                    "template": "consume",
                    "arguments": {
                        "artifacts": [{"name": "msg", "from": "{{steps.produce.outputs.artifacts.msg}}"}]
                    },
                }
            ],
        ],
    }
    finished = await run_workflow(
        hub, workflow([main, produce, consume], artifactRepositoryRef={"key": "minio"})
    )
    assert finished.phase == "Succeeded", finished.message
    assert finished.stdout(hub.executor, "consume") == "from minio\n"
    key = saved(finished, "produce")["msg"]["s3"]["key"]
    assert key.startswith(f"{finished.name}/") and key.endswith("/msg.tgz")
    with tarfile.open(fileobj=io.BytesIO(get(minio, "artifacts", key))) as tar:
        member = tar.extractfile("msg")
        assert member is not None and member.read() == b"from minio\n"
    logs = saved(finished, "consume")["main-logs"]["s3"]["key"]  # the repository archives logs
    assert get(minio, "artifacts", logs) == b"from minio\n"


async def test_artifacts_with_their_own_bucket_and_credentials(hub: Hub, minio: MinioServer) -> None:
    client = minio.client()
    client.put_object(Bucket="data", Key="in/numbers.txt", Body=b"3\n1\n2\n")
    step = sh(
        "main",
        "sort /tmp/numbers.txt > /tmp/sorted.txt; mkdir -p /tmp/report/sub; "
        "wc -l < /tmp/numbers.txt > /tmp/report/count; echo done > /tmp/report/sub/status",
        inputs={
            "artifacts": [{"name": "numbers", "path": "/tmp/numbers.txt", "s3": s3(minio, "in/numbers.txt")}]
        },
        outputs={
            "artifacts": [
                {
                    "name": "sorted",
                    "path": "/tmp/sorted.txt",
                    "archive": {"none": {}},
                    "s3": s3(minio, "out/{{workflow.name}}/sorted.txt"),
                },
                {
                    "name": "report",
                    "path": "/tmp/report",
                    "archive": {"none": {}},
                    "s3": s3(minio, "out/{{workflow.name}}/report"),
                },
            ]
        },
    )
    finished = await run_workflow(hub, workflow([step]))
    assert finished.phase == "Succeeded", finished.message
    assert get(minio, "data", f"out/{finished.name}/sorted.txt") == b"1\n2\n3\n"
    assert get(minio, "data", f"out/{finished.name}/report/count").strip() == b"3"
    assert get(minio, "data", f"out/{finished.name}/report/sub/status") == b"done\n"

    report = s3(minio, f"out/{finished.name}/report")  # a directory: the objects under a prefix
    reader = sh(
        "main",
        "cat /tmp/r/count /tmp/r/sub/status",
        inputs={"artifacts": [{"name": "r", "path": "/tmp/r", "s3": report}]},
    )
    read = await run_workflow(hub, workflow([reader]))
    assert read.phase == "Succeeded", read.message
    assert read.stdout(hub.executor, read.name).split() == ["3", "done"]


async def test_wrong_secrets_and_missing_objects_error_the_step(hub: Hub, minio: MinioServer) -> None:
    unknown: dict[str, Any] = {"accessKeySecret": {"name": "nope", "key": "accesskey"}}
    saving = sh(
        "main",
        "echo x > /tmp/x",
        outputs={"artifacts": [{"name": "x", "path": "/tmp/x", "s3": s3(minio, "x.tgz", **unknown)}]},
    )
    finished = await run_workflow(hub, workflow([saving]))
    assert finished.phase == "Error"
    assert 'secrets "nope" not found' in finished.node(finished.name).message

    loading = sh(
        "main", "true", inputs={"artifacts": [{"name": "gone", "path": "/tmp/g", "s3": s3(minio, "no/such")}]}
    )
    missing = await run_workflow(hub, workflow([loading]))
    assert missing.phase == "Error"
    assert "artifact gone failed to load: key no/such does not exist in bucket data" in (
        missing.node(missing.name).message
    )
