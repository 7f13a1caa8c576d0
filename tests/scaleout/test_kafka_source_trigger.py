"""The ``kafka`` event source and the ``kafka`` trigger against a real broker (plain and SASL)."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from eventsources.kafka import KafkaDriver
from eventsources.spec import KafkaEventSource, load_event_source
from sensors.spec import KafkaTrigger, load_sensor
from tests.eventsources.conftest import FakeContext, make_ref
from tests.sensors.helpers import event
from tests.support.cloudevents import data_of
from tests.support.kafka import SASL_PASSWORD, SASL_USER, KafkaBroker
from triggers.base import Firing, TriggerError
from triggers.kafka import KafkaTriggerDriver
from workflow_runtime.spec.errors import ManifestError


async def new_topic(kafka: KafkaBroker, partitions: int = 1) -> str:
    topic = f"src-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    return topic


async def produce(kafka: KafkaBroker, topic: str, values: list[bytes], key: bytes | None = b"k") -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=key, headers=[("origin", b"test")])
    finally:
        await producer.stop()


async def consume(bootstrap: str, topic: str, count: int, **kwargs: Any) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", **kwargs)
    await consumer.start()
    try:
        messages: list[Any] = []
        async with asyncio.timeout(20):
            while len(messages) < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    messages.extend(batch)
        return messages
    finally:
        await consumer.stop()


def source(spec: dict[str, Any]) -> KafkaEventSource:
    return KafkaEventSource.model_validate(spec)


async def first_event_data(
    secrets: dict[tuple[str, str], str], url: str, topic: str, **connection: Any
) -> dict[str, Any]:
    """The data of the first event a ``kafka`` source (consumer group, oldest first) reads from ``topic``."""
    context = FakeContext(make_ref("kafka"), secrets=secrets)
    spec = {"url": url, "topic": topic, **connection, "jsonBody": True}
    spec["consumerGroup"] = {"groupName": f"g-{topic}", "oldest": True}
    driver = KafkaDriver(context, source(spec))
    await driver.start()
    try:
        [received] = await asyncio.wait_for(context.wait_for(1), 20)
    finally:
        await driver.stop()
    return data_of(received)


async def test_consumer_group_source_publishes_every_record_once(kafka: KafkaBroker) -> None:
    topic = await new_topic(kafka, partitions=3)
    values = [orjson.dumps({"n": n}) for n in range(30)]
    await produce(kafka, topic, values, key=None)
    spec = {
        "url": kafka.bootstrap,
        "topic": topic,
        "jsonBody": True,
        "consumerGroup": {"groupName": f"g-{topic}", "oldest": True, "rebalanceStrategy": "roundrobin"},
        "metadata": {"team": "ml"},
    }
    context = FakeContext(make_ref("kafka", "records", "kafka-es"))
    driver = KafkaDriver(context, source(spec))
    await driver.start()
    try:
        events = await asyncio.wait_for(context.wait_for(30), 20)
    finally:
        await driver.stop()
    assert sorted(e.get_data()["body"]["n"] for e in events) == list(range(30))
    first = events[0]
    data = first.get_data()
    assert (
        data["topic"] == topic
        and data["headers"] == {"origin": "test"}
        and data["metadata"] == {"team": "ml"}
    )
    assert data["key"] == "" and isinstance(data["partition"], int) and " +0000 UTC" in data["timestamp"]
    assert (
        first.get_id()
        == f"default/kafka-es/records:{topic}/{data['partition']}/{first.get_id().rsplit('/', 1)[1]}"
    )
    assert (
        first.get_source() == "kafka-es" and first.get_subject() == "records" and first.get_type() == "kafka"
    )
    assert set(context.keys) <= {f"default/kafka-es/records/{p}" for p in range(3)}

    # committed after publishing: a new driver of the group reads only what came since
    await produce(kafka, topic, [orjson.dumps({"n": 30})])
    again = FakeContext(make_ref("kafka", "records", "kafka-es"))
    restarted = KafkaDriver(again, source(spec))
    await restarted.start()
    try:
        assert [e.get_data()["body"] for e in await asyncio.wait_for(again.wait_for(1), 20)] == [{"n": 30}]
        await asyncio.sleep(0.5)
        assert len(again.events) == 1
    finally:
        await restarted.stop()


async def test_records_are_committed_only_once_durable(kafka: KafkaBroker) -> None:
    topic = await new_topic(kafka)
    await produce(kafka, topic, [b"a", b"b"])
    spec = {
        "url": kafka.bootstrap,
        "topic": topic,
        "consumerGroup": {"groupName": f"g-{topic}", "oldest": True},
    }
    context = FakeContext(make_ref("kafka"), fail_next=1_000_000)  # the bus refuses everything
    driver = KafkaDriver(context, source(spec))
    await driver.start()
    try:
        async with asyncio.timeout(10):
            while context.publish_calls < 2:
                await asyncio.sleep(0.05)
    finally:
        await driver.stop()
    assert context.events == []
    healthy = FakeContext(make_ref("kafka"))
    driver = KafkaDriver(healthy, source(spec))
    await driver.start()
    try:  # nothing was committed: both records come again, raw bytes as base64 (jsonBody false)
        events = await asyncio.wait_for(healthy.wait_for(2), 20)
    finally:
        await driver.stop()
    assert [base64.b64decode(e.get_data()["body"]) for e in events] == [b"a", b"b"]


async def test_a_partition_source_reads_new_records_and_paces_them(kafka: KafkaBroker) -> None:
    topic = await new_topic(kafka)
    await produce(kafka, topic, [b"old"])
    spec = {"url": kafka.bootstrap, "topic": topic, "partition": "0", "limitEventsPerSecond": 20}
    context = FakeContext(make_ref("kafka"))
    driver = KafkaDriver(context, source(spec))
    await driver.start()
    try:
        await asyncio.sleep(1.0)  # connected and positioned at the end
        loop = asyncio.get_running_loop()
        await produce(kafka, topic, [f"new-{n}".encode() for n in range(10)])
        started = loop.time()
        events = await asyncio.wait_for(context.wait_for(10), 20)
        took = loop.time() - started
    finally:
        await driver.stop()
    assert [base64.b64decode(e.get_data()["body"]) for e in events] == [
        f"new-{n}".encode() for n in range(10)
    ]
    assert took >= 0.4, f"10 events at 20/s took only {took:.2f}s"


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
async def test_sasl_source_and_trigger(kafka: KafkaBroker, mechanism: str) -> None:
    topic = await new_topic(kafka)
    secrets = {("kafka", "user"): SASL_USER, ("kafka", "password"): SASL_PASSWORD}
    sasl = {
        "mechanism": mechanism,
        "userSecret": {"name": "kafka", "key": "user"},
        "passwordSecret": {"name": "kafka", "key": "password"},
    }
    trigger = KafkaTriggerDriver(lambda _ns, name, key: secrets.get((name, key)))
    spec = KafkaTrigger.model_validate(
        {
            "url": kafka.sasl_bootstrap,
            "topic": topic,
            "sasl": sasl,
            "partitioningKey": "model-a",
            "requiredAcks": -1,
            "compress": True,
            "headers": {"x-origin": "sensor"},
            "secureHeaders": [
                {"name": "x-token", "valueFrom": {"secretKeyRef": {"name": "kafka", "key": "user"}}}
            ],
            "payload": [
                {"src": {"dependencyName": "d", "dataKey": "score"}, "dest": "score"},
                {"src": {"dependencyName": "d", "value": "done"}, "dest": "status"},
            ],
        }
    )
    firing = Firing("default", "s", "t", "key", {"d": event("e", {"score": 0.93})})
    try:
        result = await trigger.fire(spec, firing)
    finally:
        await trigger.aclose()
    assert result.details["topic"] == topic and result.details["offset"] == 0
    [message] = await consume(kafka.bootstrap, topic, 1)
    assert orjson.loads(message.value) == {"score": "0.93", "status": "done"}  # Argo sets strings
    assert message.key == b"model-a"
    assert dict(message.headers) == {"x-origin": b"sensor", "x-token": SASL_USER.encode()}

    received = await first_event_data(secrets, kafka.sasl_bootstrap, topic, sasl=sasl)
    assert received["body"] == {"score": "0.93", "status": "done"}
    assert received["key"] == "model-a"


async def test_wrong_sasl_password_fails_the_firing(kafka: KafkaBroker) -> None:
    trigger = KafkaTriggerDriver(lambda _ns, _name, key: "nope")
    spec = KafkaTrigger.model_validate(
        {
            "url": kafka.sasl_bootstrap,
            "topic": "t",
            "sasl": {
                "mechanism": "PLAIN",
                "userSecret": {"name": "k", "key": "u"},
                "passwordSecret": {"name": "k", "key": "p"},
            },
            "payload": [],
        }
    )
    try:
        with pytest.raises(TriggerError):
            await trigger.fire(spec, Firing("default", "s", "t", "key", {"d": event("e", {})}))
    finally:
        await trigger.aclose()


def test_manifests_are_validated_like_argo() -> None:
    es = load_event_source(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "EventSource",
            "metadata": {"name": "kafka"},
            "spec": {
                "kafka": {"example": {"url": "k:9092", "topic": "t", "partition": "0", "version": "2.5.0"}}
            },
        }
    )
    assert es.spec.kafka is not None and es.spec.kafka["example"].partition == "0"
    bad = {
        "url": "k:9092",
        "topic": "t",
        "sasl": {"mechanism": "GSSAPI"},
        "config": "Net: {}",
    }
    with pytest.raises(ManifestError) as refused:
        load_event_source(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "EventSource",
                "metadata": {"name": "k"},
                "spec": {"kafka": {"x": bad}},
            }
        )
    text = str(refused.value)
    assert "spec.kafka.x.sasl.mechanism: SASL mechanism GSSAPI is not supported by Triggerfish yet" in text
    assert "spec.kafka.x.config: not supported by Triggerfish yet" in text
    with pytest.raises(ManifestError, match="either partition or consumerGroup is required"):
        load_event_source(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "EventSource",
                "metadata": {"name": "k"},
                "spec": {"kafka": {"x": {"url": "k:9092", "topic": "t"}}},
            }
        )

    sensor = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": "s"},
        "spec": {
            "dependencies": [{"name": "d", "eventSourceName": "e", "eventName": "x"}],
            "triggers": [{"template": {"name": "k", "kafka": {"url": "", "topic": "t", "requiredAcks": 2}}}],
        },
    }
    with pytest.raises(ManifestError) as refused:
        load_sensor(sensor)
    text = str(refused.value)
    assert "spec.triggers[0].template.kafka.url: broker url must not be empty" in text
    assert "spec.triggers[0].template.kafka.payload: payload parameters are not specified" in text
    assert "spec.triggers[0].template.kafka.requiredAcks" in text


async def test_tls_source_and_trigger_with_client_certificates(kafka: KafkaBroker) -> None:
    """Mutual TLS: the broker's listener requires a client certificate signed by the test CA."""
    certificates = kafka.certificates
    assert certificates is not None
    topic = await new_topic(kafka)
    secrets = {
        ("tls", "ca"): certificates.ca.read_text(),
        ("tls", "cert"): certificates.client_cert.read_text(),
        ("tls", "key"): certificates.client_key.read_text(),
    }
    tls = {
        "caCertSecret": {"name": "tls", "key": "ca"},
        "clientCertSecret": {"name": "tls", "key": "cert"},
        "clientKeySecret": {"name": "tls", "key": "key"},
    }
    payload = [{"src": {"dependencyName": "d", "dataKey": "score"}, "dest": "score"}]
    trigger = KafkaTriggerDriver(lambda _ns, name, key: secrets.get((name, key)))
    firing = Firing("default", "s", "t", "key", {"d": event("e", {"score": 0.5})})
    without_client_cert = KafkaTrigger.model_validate(
        {
            "url": kafka.tls_bootstrap,
            "topic": topic,
            "tls": {"caCertSecret": tls["caCertSecret"]},
            "payload": payload,
        }
    )
    spec = KafkaTrigger.model_validate(
        {"url": kafka.tls_bootstrap, "topic": topic, "tls": tls, "payload": payload}
    )
    try:
        with pytest.raises(TriggerError):
            await trigger.fire(without_client_cert, firing)
        result = await trigger.fire(spec, firing)
    finally:
        await trigger.aclose()
    assert result.details["topic"] == topic and result.details["offset"] == 0

    received = await first_event_data(secrets, kafka.tls_bootstrap, topic, tls=tls)
    assert received["body"] == {"score": "0.5"}
