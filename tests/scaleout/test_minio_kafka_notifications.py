"""MinIO's Kafka notification target → a ``kafka`` EventSource → Sensor → Workflow, all real.

MinIO publishes each bucket event to a topic of the test broker (``MINIO_NOTIFY_KAFKA_*_<ID>``, queue
ARN ``arn:minio:sqs::<ID>:kafka``); the hub's ``kafka`` EventSource reads that topic with
``jsonBody: true``, so the S3 event document is the event's ``body`` and the sensor takes the
object key from ``body.Records.0.s3.object.key``. MinIO sends keys URL-encoded (as S3 does); the
workflow's step decodes the key it receives, and the test checks both forms.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

from tests.scaleout.test_kafka_source_trigger import new_topic
from tests.support.event_hub import arguments_of, event_hubs, needs_isolation
from tests.support.kafka import KafkaBroker, kafka_event_source
from tests.support.minio import minio_binary, running_minio
from tests.support.processes import nodes_by_display_name

pytestmark = pytest.mark.minio

SOURCE, EVENT, SENSOR, TARGET = "bucket-events", "uploads", "minio-kafka", "TRIGGERFISH"
KEY = "raw/hello world, v2.txt"
"""MinIO's S3 event carries it query-escaped: ``raw%2Fhello+world%2C+v2.txt``."""


def event_source(kafka: KafkaBroker, topic: str) -> dict[str, Any]:
    return kafka_event_source(SOURCE, EVENT, kafka.bootstrap, topic)


def sensor() -> dict[str, Any]:
    decode = "import os, urllib.parse\nprint(urllib.parse.unquote_plus(os.environ['KEY']))\n"
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "uploaded-"},
        "spec": {
            "entrypoint": "main",
            "arguments": {"parameters": [{"name": "key"}]},
            "templates": [
                {  # a step's stdout is kept as outputs.result when something refers to it, as in Argo
                    "name": "main",
                    "steps": [[{"name": "decode", "template": "decode"}]],
                    "outputs": {
                        "parameters": [
                            {"name": "key", "valueFrom": {"parameter": "{{steps.decode.outputs.result}}"}}
                        ]
                    },
                },
                {
                    "name": "decode",
                    "script": {
                        "image": "python:3.11",
                        "command": ["python3"],
                        "env": [{"name": "KEY", "value": "{{workflow.parameters.key}}"}],
                        "source": decode,
                    },
                },
            ],
        },
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": SENSOR},
        "spec": {
            "dependencies": [{"name": "upload", "eventSourceName": SOURCE, "eventName": EVENT}],
            "triggers": [
                {
                    "template": {
                        "name": "run",
                        "argoWorkflow": {
                            "operation": "submit",
                            "source": {"resource": workflow},
                            "parameters": [
                                {
                                    "src": {
                                        "dependencyName": "upload",
                                        "dataKey": "body.Records.0.s3.object.key",
                                    },
                                    "dest": "spec.arguments.parameters.0.value",
                                }
                            ],
                        },
                    }
                }
            ],
        },
    }


@needs_isolation  # the script step writes /argo/staging/script: in its own view, never on the host
def test_upload_notified_through_kafka_runs_a_workflow_with_the_key(
    kafka: KafkaBroker, tmp_path: Path
) -> None:
    minio_binary()  # built (or found unbuildable) before anything is started
    topic = asyncio.run(new_topic(kafka))
    with (
        event_hubs(tmp_path) as make,
        running_minio(buckets=("incoming",), kafka_targets={TARGET: (kafka.bootstrap, topic)}) as minio,
    ):
        hub = make().start()
        hub.apply(event_source(kafka, topic), sensor())
        minio.notify("incoming", TARGET, prefix="raw/")
        client = minio.client()
        client.put_object(Bucket="incoming", Key=KEY, Body=b"hello through kafka\n")
        client.put_object(Bucket="incoming", Key="ignored/other.txt", Body=b"not under raw/\n")

        (run,) = hub.wait_runs(1, sensor=SENSOR, timeout=30)
        sent = arguments_of(run)["key"]
        assert sent != KEY and unquote_plus(sent) == KEY, sent  # as MinIO put it in the S3 event
        done = hub.wait_completed(run["metadata"]["name"], timeout=30)
        assert done["status"]["phase"] == "Succeeded", done["status"]
        assert nodes_by_display_name(done)["decode"]["outputs"]["result"] == KEY
        (listed,) = hub.events(subject=EVENT, limit=100)  # MinIO filtered the other upload out
        data = hub.event(listed["id"])["data"]
        assert data["topic"] == topic and data["key"] == f"incoming/{KEY}"  # MinIO keys records bucket/key
        assert data["body"]["Records"][0]["s3"]["bucket"]["name"] == "incoming"
        assert hub.run_names(sensor=SENSOR) == [run["metadata"]["name"]]
