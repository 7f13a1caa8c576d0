"""The minio source fed by S3/MinIO webhook notifications."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import unquote

import pytest

from eventsources.s3 import S3Driver, S3Settings, event_name_matches, route_path
from eventsources.spec import MinioEventSource
from eventsources.webhook import EVENT_ID_HEADER
from tests.eventsources.conftest import FakeContext, http_client, make_ref
from tests.support.cloudevents import data_of, time_of

PATH = "/s3/default/minio/example"


def record(
    key: str = "incoming/report.csv",
    *,
    bucket: str = "input",
    event: str = "s3:ObjectCreated:Put",
    sequencer: str | None = "17A5B2C3D4E5F6A7",
) -> dict[str, Any]:
    """One record as MinIO's webhook target sends it (key URL-encoded by the server)."""
    obj: dict[str, Any] = {
        "key": key,
        "size": 1024,
        "eTag": "d41d8cd98f00b204e9800998ecf8427e",
        "contentType": "text/csv",
        "userMetadata": {"content-type": "text/csv"},
    }
    if sequencer:
        obj["sequencer"] = sequencer
    return {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": "",
        "eventTime": "2024-05-01T12:00:00.123Z",
        "eventName": event,
        "userIdentity": {"principalId": "minioadmin"},
        "requestParameters": {"principalId": "minioadmin", "region": "", "sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": "17A5B2C3D4E5F6A7",
            "x-minio-origin-endpoint": "http://127.0.0.1:9000",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "minioadmin"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
        "source": {"host": "127.0.0.1", "port": "", "userAgent": "MinIO (linux; amd64) minio-go/v7.0.70"},
    }


def notification(*records: dict[str, Any]) -> dict[str, Any]:
    """MinIO's webhook body: EventName and Key of the first record, then the records."""
    first = records[0]
    return {
        "EventName": first["eventName"],
        "Key": f"{first['s3']['bucket']['name']}/{unquote(first['s3']['object']['key'])}",
        "Records": list(records),
    }


def minio(**fields: Any) -> MinioEventSource:
    spec = {
        "bucket": {"name": "input"},
        "endpoint": "minio-service.argo-events:9000",
        "events": ["s3:ObjectCreated:Put", "s3:ObjectRemoved:Delete"],
        "insecure": True,
        "accessKey": {"key": "accesskey", "name": "artifacts-minio"},
        "secretKey": {"key": "secretkey", "name": "artifacts-minio"},
    } | fields
    return MinioEventSource.model_validate(spec)


def driver_for(
    spec: MinioEventSource | None = None, settings: S3Settings | None = None
) -> tuple[S3Driver, FakeContext]:
    ctx = FakeContext(make_ref("minio", "example", "minio"))
    return S3Driver(ctx, spec or minio(), settings), ctx


def test_route_is_namespaced_on_the_hub_port() -> None:
    driver, ctx = driver_for()
    (route,) = driver.routes()
    assert route.path == PATH == route_path(ctx.ref)
    assert route.port is None


async def test_record_becomes_an_argo_shaped_event() -> None:
    driver, ctx = driver_for(minio(metadata={"pipeline": "etl"}))
    body = notification(record())
    async with http_client(driver) as client:
        response = await client.post(PATH, json=body)
    assert response.status_code == 200
    (event,) = ctx.events
    expected_id = "default/minio/example:input/incoming/report.csv@17A5B2C3D4E5F6A7"
    assert event.get_id() == expected_id
    assert response.json() == {"ids": [expected_id]}
    assert response.headers[EVENT_ID_HEADER] == expected_id
    data = data_of(event)
    assert data["notification"] == [record()]  # Argo's MinioEventData: notification.0.s3.object.key
    assert data["metadata"] == {"pipeline": "etl"}
    assert event.get_type() == "minio" and event.get_subject() == "example"
    assert time_of(event).isoformat() == "2024-05-01T12:00:00.123000+00:00"
    assert ctx.keys == ["input/incoming/report.csv"]


async def test_keys_are_url_decoded() -> None:
    driver, ctx = driver_for()
    async with http_client(driver) as client:
        response = await client.post(PATH, json=notification(record("my+folder/na%C3%AFve+file%2B1.csv")))
    assert response.status_code == 200
    key = ctx.data[0]["notification"][0]["s3"]["object"]["key"]
    assert key == "my folder/naïve file+1.csv"
    assert ctx.ids[0] == "default/minio/example:input/my folder/naïve file+1.csv@17A5B2C3D4E5F6A7"
    # the header carries the ids URL-encoded (keys may hold commas and any Unicode)
    assert unquote(response.headers[EVENT_ID_HEADER]) == ctx.ids[0]


async def test_redelivery_has_the_same_id() -> None:
    driver, ctx = driver_for()
    async with http_client(driver) as client:
        first = await client.post(PATH, json=notification(record()))
        again = await client.post(PATH, json=notification(record()))
    assert first.json()["ids"] == again.json()["ids"]
    assert again.json()["duplicates"] == 1
    assert len(ctx.events) == 1


async def test_same_key_later_change_is_a_new_event() -> None:
    driver, ctx = driver_for()
    async with http_client(driver) as client:
        await client.post(PATH, json=notification(record(sequencer="00000001")))
        await client.post(PATH, json=notification(record(sequencer="00000002")))
        await client.post(
            PATH, json=notification(record(sequencer="00000003", event="s3:ObjectRemoved:Delete"))
        )
    assert len(ctx.events) == 3


async def test_without_sequencer_the_id_is_still_stable() -> None:
    driver, ctx = driver_for()
    async with http_client(driver) as client:
        await client.post(PATH, json=notification(record(sequencer=None)))
        await client.post(PATH, json=notification(record(sequencer=None)))
    assert len(ctx.events) == 1
    assert "@s3:ObjectCreated:Put@2024-05-01T12:00:00.123Z@" in ctx.ids[0]


async def test_one_event_per_record_after_filters() -> None:
    spec = minio(events=["s3:ObjectCreated:*"], filter={"prefix": "incoming/", "suffix": ".csv"})
    driver, ctx = driver_for(spec)
    records = [
        record("incoming/a.csv", sequencer="1"),
        record("incoming/b.json", sequencer="2"),  # suffix
        record("archive/c.csv", sequencer="3"),  # prefix
        record("incoming/d.csv", sequencer="4", bucket="other"),  # bucket
        record("incoming/e.csv", sequencer="5", event="s3:ObjectRemoved:Delete"),  # event name
        record("incoming/f.csv", sequencer="6", event="s3:ObjectCreated:CompleteMultipartUpload"),
        record("incoming/g.csv", sequencer="7", event="ObjectCreated:Copy"),  # AWS spelling, no s3: prefix
    ]
    async with http_client(driver) as client:
        response = await client.post(PATH, json={"Records": records})
    assert response.status_code == 200
    keys = [d["notification"][0]["s3"]["object"]["key"] for d in ctx.data]
    assert keys == ["incoming/a.csv", "incoming/f.csv", "incoming/g.csv"]
    assert len(response.json()["ids"]) == 3


async def test_filters_apply_to_the_decoded_key() -> None:
    driver, ctx = driver_for(minio(filter={"prefix": "my folder/"}))
    async with http_client(driver) as client:
        await client.post(PATH, json=notification(record("my+folder/x.csv")))
    assert len(ctx.events) == 1


@pytest.mark.parametrize(
    ("patterns", "name", "matches"),
    [
        ([], "s3:ObjectCreated:Put", True),
        (["s3:ObjectCreated:*"], "s3:ObjectCreated:Put", True),
        (["s3:ObjectCreated:*"], "ObjectCreated:Post", True),
        (["s3:ObjectCreated:*"], "s3:ObjectRemoved:Delete", False),
        (["s3:ObjectCreated:Put"], "s3:ObjectCreated:Post", False),
        (["s3:ObjectRemoved:*", "s3:ObjectCreated:Put"], "s3:ObjectCreated:Put", True),
        (["s3:*"], "s3:Replication:OperationFailedReplication", True),
    ],
)
def test_event_name_wildcards(patterns: list[str], name: str, matches: bool) -> None:
    assert event_name_matches(patterns, name) is matches


async def test_minio_validation_head_request_is_answered() -> None:
    driver, ctx = driver_for()
    async with http_client(driver) as client:
        response = await client.head(PATH)
    assert response.status_code == 200
    assert ctx.events == []


async def test_aws_test_event_is_answered_without_events() -> None:
    driver, ctx = driver_for()
    body = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2024-05-01T12:00:00.000Z",
        "Bucket": "input",
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    }
    async with http_client(driver) as client:
        response = await client.post(PATH, json=body)
    assert response.status_code == 200
    assert response.json() == {"ids": [], "test": True}
    assert ctx.events == []


@pytest.mark.parametrize(
    "body",
    [
        b"{broken",
        b"[]",
        b'{"EventName": "s3:ObjectCreated:Put"}',
        b'{"Records": {"not": "a list"}}',
        b'{"Records": [42]}',
    ],
)
async def test_malformed_notifications_are_400(body: bytes) -> None:
    driver, ctx = driver_for()
    async with http_client(driver) as client:
        response = await client.post(PATH, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert ctx.events == []


async def test_one_bad_record_publishes_nothing() -> None:
    driver, ctx = driver_for()
    broken = copy.deepcopy(record(sequencer="2"))
    del broken["s3"]["object"]["key"]
    async with http_client(driver) as client:
        response = await client.post(PATH, json={"Records": [record(sequencer="1"), broken]})
    assert response.status_code == 400
    assert "Records[1].s3.object.key" in response.json()["error"]
    assert ctx.events == []


async def test_reply_only_after_every_record_is_durable() -> None:
    driver, ctx = driver_for()
    records = [record("incoming/a.csv", sequencer="1"), record("incoming/b.csv", sequencer="2")]
    async with http_client(driver) as client:
        # The bus fails on the second record: 500, so the server retries the whole notification.
        original = ctx.publish

        calls = 0

        async def flaky(event: Any, *, key: str | None = None) -> Any:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise RuntimeError("bus unavailable")
            return await original(event, key=key)

        ctx.publish = flaky  # type: ignore[method-assign]
        failed = await client.post(PATH, json={"Records": records})
        retried = await client.post(PATH, json={"Records": records})
    assert failed.status_code == 500
    assert retried.status_code == 200
    assert retried.json()["duplicates"] == 1
    assert len(ctx.events) == 2


async def test_empty_records_is_ok_and_publishes_nothing() -> None:
    driver, ctx = driver_for()
    assert ctx.events == []
    async with http_client(driver) as client:
        response = await client.post(PATH, json={"Records": []})
    assert response.status_code == 200
    assert response.json() == {"ids": []}
    assert ctx.publish_calls == 0


async def test_wrong_method_is_405() -> None:
    driver, _ = driver_for()
    async with http_client(driver) as client:
        response = await client.get(PATH)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST, HEAD"


async def test_oversized_notification_is_413() -> None:
    driver, ctx = driver_for(settings=S3Settings(max_payload_size=100))
    async with http_client(driver) as client:
        response = await client.post(PATH, json=notification(record()))
    assert response.status_code == 413
    assert ctx.events == []


async def test_auth_token_setting_requires_minios_bearer_header() -> None:
    driver, ctx = driver_for(settings=S3Settings(auth_token="minio-token"))
    async with http_client(driver) as client:
        head = await client.head(PATH)
        refused = await client.post(
            PATH, json=notification(record()), headers={"Authorization": "Bearer nope"}
        )
        accepted = await client.post(
            PATH, json=notification(record()), headers={"Authorization": "Bearer minio-token"}
        )
    assert head.status_code == 401
    assert refused.status_code == 401
    assert accepted.status_code == 200
    assert len(ctx.events) == 1
