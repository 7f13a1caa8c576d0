"""Upload → pipeline → result, with nothing simulated: a boto3 upload to a real MinIO, MinIO's own
webhook notification to ``triggerfish server``'s S3 event source, the sensor's workflow reading the
object as an input ``s3`` artifact, transforming it and writing an output artifact back to MinIO,
which the test downloads.

The hub starts first (MinIO probes its webhook target when it starts), then a MinIO whose target
``hub`` is the event source's route, with a bucket notification for ``raw/`` uploads to ``incoming``.
The executor is a parameter (``EXECUTORS``), so the same pipeline runs on every executor kind.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.event_hub import EventHub, arguments_of, event_hubs, needs_isolation
from tests.support.minio import ACCESS_KEY, SECRET_KEY, MinioServer, minio_binary, running_minio
from tests.support.workflow_hub import EXECUTORS, executor_ready

pytestmark = [needs_isolation, pytest.mark.minio]

SOURCE, EVENT, SENSOR = "uploads", "incoming", "minio-etl"
ROUTE = f"/s3/default/{SOURCE}/{EVENT}"
SECRET = "minio-cred"


def event_source() -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventSource",
        "metadata": {"name": SOURCE},
        "spec": {
            "minio": {
                EVENT: {
                    "bucket": {"name": "incoming"},
                    "endpoint": "unused:9000",  # notifications are pushed to the hub, not listened for
                    "events": ["s3:ObjectCreated:*"],
                    "filter": {"prefix": "raw/", "suffix": ""},
                    "insecure": True,
                    "accessKey": {"name": SECRET, "key": "accesskey"},
                    "secretKey": {"name": SECRET, "key": "secretkey"},
                }
            }
        },
    }


def sensor(minio: MinioServer) -> dict[str, Any]:
    location = {
        "endpoint": minio.endpoint,
        "insecure": True,
        "accessKeySecret": {"name": SECRET, "key": "accesskey"},
        "secretKeySecret": {"name": SECRET, "key": "secretkey"},
    }
    transform = {
        "name": "shout",
        "inputs": {
            "parameters": [{"name": "bucket"}, {"name": "key"}],
            "artifacts": [
                {
                    "name": "upload",
                    "path": "/tmp/upload.txt",
                    "s3": {
                        **location,
                        "bucket": "{{inputs.parameters.bucket}}",
                        "key": "{{inputs.parameters.key}}",
                    },
                }
            ],
        },
        "container": {
            "image": "busybox",
            "command": ["sh", "-c", "tr a-z A-Z < /tmp/upload.txt > /tmp/out.txt"],
        },
        "outputs": {
            "artifacts": [
                {
                    "name": "shouted",
                    "path": "/tmp/out.txt",
                    "archive": {"none": {}},
                    "s3": {**location, "bucket": "results", "key": "processed/{{inputs.parameters.key}}"},
                }
            ]
        },
    }
    pipeline = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "shout-"},
        "spec": {
            "entrypoint": "main",
            "arguments": {"parameters": [{"name": "bucket"}, {"name": "key"}]},
            "templates": [
                {
                    "name": "main",
                    "steps": [
                        [
                            {
                                "name": "shout",
                                "template": "shout",
                                "arguments": {
                                    "parameters": [
                                        {"name": "bucket", "value": "{{workflow.parameters.bucket}}"},
                                        {"name": "key", "value": "{{workflow.parameters.key}}"},
                                    ]
                                },
                            }
                        ]
                    ],
                },
                transform,
            ],
        },
    }
    field = "notification.0.s3.{}".format
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": SENSOR},
        "spec": {
            "dependencies": [{"name": "upload", "eventSourceName": SOURCE, "eventName": EVENT}],
            "triggers": [
                {
                    "template": {
                        "name": "pipeline",
                        "k8s": {
                            "operation": "create",
                            "source": {"resource": pipeline},
                            "parameters": [
                                {
                                    "src": {"dependencyName": "upload", "dataKey": field("bucket.name")},
                                    "dest": "spec.arguments.parameters.0.value",
                                },
                                {
                                    "src": {"dependencyName": "upload", "dataKey": field("object.key")},
                                    "dest": "spec.arguments.parameters.1.value",
                                },
                            ],
                        },
                    }
                }
            ],
        },
    }


@pytest.fixture(scope="module", params=EXECUTORS)
def pipeline(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[EventHub, MinioServer]]:
    minio_binary()  # built (or found unbuildable) before anything is started
    settings = {
        "executor": {"kind": request.param},
        "secrets": {SECRET: {"accesskey": ACCESS_KEY, "secretkey": SECRET_KEY}},
    }
    with executor_ready(request.param), event_hubs(tmp_path_factory.mktemp("minio-pipeline")) as make:
        hub = make(settings=settings).start()
        hub.apply(event_source())
        with running_minio(buckets=("incoming", "results"), webhooks={"hub": hub.url + ROUTE}) as minio:
            hub.apply(sensor(minio))
            minio.notify("incoming", "hub", prefix="raw/")
            yield hub, minio


def test_upload_runs_the_pipeline_and_the_result_lands_in_minio(
    pipeline: tuple[EventHub, MinioServer],
) -> None:
    hub, minio = pipeline
    client = minio.client()
    client.put_object(Bucket="incoming", Key="raw/hello world.txt", Body=b"hello from minio\n")
    client.put_object(Bucket="incoming", Key="ignored/other.txt", Body=b"not under raw/\n")

    (run,) = hub.wait_runs(1, sensor=SENSOR, timeout=30)
    assert arguments_of(run) == {"bucket": "incoming", "key": "raw/hello world.txt"}
    done = hub.wait_completed(run["metadata"]["name"], timeout=60)
    assert done["status"]["phase"] == "Succeeded", done["status"]

    result = client.get_object(Bucket="results", Key="processed/raw/hello world.txt")["Body"].read()
    assert result == b"HELLO FROM MINIO\n"
    events = [e for e in hub.events(subject=EVENT, limit=100) if "hello world.txt" in e["id"]]
    assert len(events) == 1
    assert [w["name"] for w in hub.lineage(events[0]["id"])["workflows"]] == [run["metadata"]["name"]]
    assert hub.run_names(sensor=SENSOR) == [run["metadata"]["name"]]  # the other upload was filtered out
