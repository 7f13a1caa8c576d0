"""``examples/kafka-ml`` end to end on a real broker: a training request on one topic starts the
train → evaluate → publish-result workflow, whose result arrives on another topic.

The example's manifests are applied unchanged except for the addresses: the broker's (the files
say ``127.0.0.1:9092``) and the hub's (the WorkflowTemplate's ``results-url``, port 2746).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.support.event_hub import EventHub, arguments_of, event_hubs
from tests.support.kafka import KafkaBroker

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "kafka-ml"
REQUESTS, RESULTS = "training-requests", "model-results"


def example_manifests(bootstrap: str, hub_url: str) -> list[dict[str, Any]]:
    manifests: list[dict[str, Any]] = []
    for name in ("eventsource.yaml", "pipeline.yaml", "sensor.yaml"):
        text = (EXAMPLE / name).read_text()
        text = text.replace("127.0.0.1:9092", bootstrap).replace("http://127.0.0.1:2746", hub_url)
        manifests.extend(m for m in yaml.safe_load_all(text) if m)
    return manifests


@pytest.fixture
def hub(kafka: KafkaBroker, tmp_path: Path) -> Iterator[EventHub]:
    with event_hubs(tmp_path) as make:
        hub = make(settings={"executor": {"local": {"isolation": "none"}}}).start()
        hub.apply(*example_manifests(kafka.bootstrap, hub.url))
        yield hub


async def results(bootstrap: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(RESULTS, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        found: list[Any] = []
        async with asyncio.timeout(60):
            while len(found) < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    found.extend(batch)
        return found
    finally:
        await consumer.stop()


async def test_a_request_message_trains_and_publishes_the_result(kafka: KafkaBroker, hub: EventHub) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    try:
        for request in (
            {"model": "churn", "learningRate": 0.05, "epochs": 40},
            {"model": "fraud", "learningRate": 0.01, "epochs": 10},
        ):
            await producer.send_and_wait(REQUESTS, orjson.dumps(request))
    finally:
        await producer.stop()

    messages = await results(kafka.bootstrap, 2)
    by_model = {m.key.decode(): (orjson.loads(m.value), dict(m.headers)) for m in messages}
    assert set(by_model) == {"churn", "fraud"}
    churn, headers = by_model["churn"]
    assert churn["accuracy"] == "0.889" and churn["verdict"] == "accepted"  # 1 - 1/(1 + 0.05*40*4)
    assert by_model["fraud"][0]["accuracy"] == "0.286" and by_model["fraud"][0]["verdict"] == "rejected"
    assert headers == {"producer": b"triggerfish-kafka-ml"}

    runs = await asyncio.to_thread(hub.wait_runs, 2, sensor="kafka-ml", timeout=30)
    assert {arguments_of(run)["model"] for run in runs} == {"churn", "fraud"}
    for run in runs:
        done = await asyncio.to_thread(hub.wait_completed, run["metadata"]["name"], 30)
        assert done["status"]["phase"] == "Succeeded", done["status"]
        steps = sorted(n["displayName"] for n in done["status"]["nodes"].values() if n["type"] == "Pod")
        assert steps == ["evaluate", "publish-result", "train"]
    assert {by_model[arguments_of(run)["model"]][0]["workflow"] for run in runs} == {
        run["metadata"]["name"] for run in runs
    }
