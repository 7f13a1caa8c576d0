"""S3 / MinIO bucket notifications → Sensor → Workflow, over real HTTP against ``triggerfish server``.

Notifications are POSTed in MinIO's webhook format to ``/s3/<namespace>/<eventsource>/<event>`` on
the hub port. Object keys arrive URL-encoded (``+`` for a space, ``%2C`` for a comma…) and the run
must receive the decoded key; the EventSource's prefix/suffix/event-name filters (and the bucket)
drop other records; a redelivered notification (same sequencer) is a duplicate and runs nothing.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from tests.support.event_hub import EventHub, arguments_of, event_hubs, needs_isolation, step_inputs

pytestmark = needs_isolation

BUCKET = "incoming"
ROUTE = "/s3/default/uploads/incoming"
SENSOR = "s3-etl"

EVENT_SOURCE: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "EventSource",
    "metadata": {"name": "uploads"},
    "spec": {
        "minio": {
            "incoming": {
                "bucket": {"name": BUCKET},
                "endpoint": "minio.local:9000",
                "events": ["s3:ObjectCreated:*"],
                "filter": {"prefix": "raw/", "suffix": ".csv"},
                "insecure": True,
                "accessKey": {"name": "minio", "key": "accesskey"},
                "secretKey": {"name": "minio", "key": "secretkey"},
            }
        }
    },
}

BUCKET_NAME = {"dependencyName": "upload", "dataKey": "notification.0.s3.bucket.name"}
OBJECT_KEY = {"dependencyName": "upload", "dataKey": "notification.0.s3.object.key"}

SENSOR_MANIFEST: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Sensor",
    "metadata": {"name": SENSOR},
    "spec": {
        "dependencies": [{"name": "upload", "eventSourceName": "uploads", "eventName": "incoming"}],
        "triggers": [
            {
                "template": {
                    "name": "transform",
                    "k8s": {
                        "operation": "create",
                        "source": {
                            "resource": {
                                "apiVersion": "argoproj.io/v1alpha1",
                                "kind": "Workflow",
                                "metadata": {"generateName": "etl-"},
                                "spec": {
                                    "entrypoint": "transform",
                                    "arguments": {"parameters": [{"name": "bucket"}, {"name": "key"}]},
                                    "templates": [
                                        {
                                            "name": "transform",
                                            "inputs": {"parameters": [{"name": "bucket"}, {"name": "key"}]},
                                            "container": {
                                                "image": "busybox",
                                                "command": ["sh", "-c"],
                                                "args": ['echo "s3://{{inputs.parameters.bucket}}/..."'],
                                            },
                                        }
                                    ],
                                },
                            }
                        },
                        "parameters": [
                            {
                                "src": {
                                    "dependencyName": "upload",
                                    "dataKey": "notification.0.s3.bucket.name",
                                },
                                "dest": "spec.arguments.parameters.0.value",
                            },
                            {
                                "src": {
                                    "dependencyName": "upload",
                                    "dataKey": "notification.0.s3.object.key",
                                },
                                "dest": "spec.arguments.parameters.1.value",
                            },
                        ],
                    },
                }
            }
        ],
    },
}

_sequencers = itertools.count(0x17A9F2C3B4D50000)


def record(
    key: str, event: str = "s3:ObjectCreated:Put", bucket: str = BUCKET, sequencer: str | None = None
) -> dict[str, Any]:
    """One record as MinIO sends it (the key URL-encoded by the caller)."""
    return {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": "",
        "eventTime": "2024-05-01T10:00:00.000Z",
        "eventName": event,
        "userIdentity": {"principalId": "minioadmin"},
        "requestParameters": {"principalId": "minioadmin", "region": "", "sourceIPAddress": "10.0.0.5"},
        "responseElements": {
            "x-amz-request-id": "17A9F2C3B4D5E6F7",
            "x-minio-origin-endpoint": "http://m:9000",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "minioadmin"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": {
                "key": key,
                "size": 1234,
                "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                "contentType": "text/csv",
                "userMetadata": {"content-type": "text/csv"},
                "sequencer": sequencer or f"{next(_sequencers):X}",
            },
        },
        "source": {"host": "10.0.0.5", "port": "", "userAgent": "MinIO (linux; amd64) minio-go/v7.0.70"},
    }


def notification(*records: dict[str, Any]) -> dict[str, Any]:
    """MinIO's webhook body: ``EventName`` and ``Key`` of the first record, then ``Records``."""
    first = records[0]
    return {
        "EventName": first["eventName"],
        "Key": f"{first['s3']['bucket']['name']}/{first['s3']['object']['key']}",
        "Records": list(records),
    }


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventHub]:
    with event_hubs(tmp_path_factory.mktemp("s3")) as make:
        hub = make(settings={}).start()
        hub.apply(EVENT_SOURCE, SENSOR_MANIFEST)
        yield hub


def post(hub: EventHub, body: dict[str, Any]) -> httpx.Response:
    return hub.client.post(
        ROUTE, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )


def run_for_key(hub: EventHub, key: str, timeout: float = 20.0) -> dict[str, Any]:
    (run,) = hub.wait_runs(
        1, sensor=SENSOR, timeout=timeout, predicate=lambda r: arguments_of(r)["key"] == key
    )
    return run


def test_notification_runs_with_the_decoded_key(hub: EventHub) -> None:
    body = notification(record("raw/my+file%2C1.csv", sequencer="17A9F2C3B4D5E6F7"))
    response = post(hub, body)
    assert response.status_code == 200, response.text
    event_id = "default/uploads/incoming:incoming/raw/my file,1.csv@17A9F2C3B4D5E6F7"
    assert response.json() == {"ids": [event_id]}
    assert unquote(response.headers["X-Triggerfish-Event-Id"]) == event_id

    stored = hub.event(event_id)  # durable before the reply
    assert stored["data"]["notification"][0]["s3"]["object"]["key"] == "raw/my file,1.csv"

    run = run_for_key(hub, "raw/my file,1.csv")
    done = hub.wait_completed(run["metadata"]["name"], timeout=30)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert arguments_of(done) == {"bucket": BUCKET, "key": "raw/my file,1.csv"}
    assert list(step_inputs(done).values()) == [{"bucket": BUCKET, "key": "raw/my file,1.csv"}]
    assert [w["name"] for w in hub.lineage(event_id)["workflows"]] == [run["metadata"]["name"]]


def test_filters_drop_non_matching_records(hub: EventHub) -> None:
    events_before = len(hub.events(subject="incoming", limit=1000))
    runs_before = hub.run_names(sensor=SENSOR)
    body = notification(
        record("other/x.csv"),  # prefix
        record("raw/x.txt"),  # suffix
        record("raw/deleted.csv", event="s3:ObjectRemoved:Delete"),  # event name
        record("raw/x.csv", bucket="elsewhere"),  # bucket
        record("raw/a%2Bb.csv", event="ObjectCreated:CompleteMultipartUpload"),  # AWS spelling, kept
    )
    response = post(hub, body)
    assert response.status_code == 200, response.text
    ids = response.json()["ids"]
    assert len(ids) == 1 and "raw/a+b.csv@" in ids[0], ids
    assert len(hub.events(subject="incoming", limit=1000)) == events_before + 1

    run = run_for_key(hub, "raw/a+b.csv")
    assert hub.wait_completed(run["metadata"]["name"], timeout=30)["status"]["phase"] == "Succeeded"
    time.sleep(0.5)
    new_runs = sorted(set(hub.run_names(sensor=SENSOR)) - set(runs_before))
    assert new_runs == [run["metadata"]["name"]]


def test_repeated_notification_creates_no_second_run(hub: EventHub) -> None:
    body = notification(record("raw/report%202024.csv", sequencer="17A9F2C3B4D5FFFF"))
    first = post(hub, body)
    assert first.status_code == 200, first.text
    run = run_for_key(hub, "raw/report 2024.csv")

    again = post(hub, body)
    assert again.status_code == 200, again.text
    assert again.json() == {"ids": first.json()["ids"], "duplicates": 1}
    matching = [e for e in hub.events(subject="incoming", limit=1000) if e["id"] == first.json()["ids"][0]]
    assert len(matching) == 1
    time.sleep(1.0)
    runs = [r for r in hub.runs(sensor=SENSOR) if arguments_of(r)["key"] == "raw/report 2024.csv"]
    assert [r["metadata"]["name"] for r in runs] == [run["metadata"]["name"]]


def test_invalid_notifications_publish_nothing(hub: EventHub) -> None:
    before = hub.events(limit=1000)
    broken = notification(record("raw/ok.csv"), {"eventName": "s3:ObjectCreated:Put", "s3": {}})
    response = post(hub, broken)
    assert response.status_code == 400, response.text
    assert "Records[1]" in response.json()["error"]
    assert hub.client.post(ROUTE, content=b"{not json").status_code == 400
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}
    tested = post(hub, test_event)
    assert tested.status_code == 200 and tested.json()["ids"] == []
    assert hub.client.head(ROUTE).status_code == 200  # MinIO's target probe
    assert hub.events(limit=1000) == before
